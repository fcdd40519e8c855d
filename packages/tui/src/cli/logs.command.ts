import { FINISHED_RUN_STATUSES, type OrcEvent } from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { truncateCells } from '../screen/text-cells.js';
import { endsFollowing, eventLine } from './event-line.js';
import { followEvents, interruptSignal } from './follow-events.js';
import { printJson } from './output.js';
import { resolveRunRef } from './run-ref.js';

interface LogsOptions {
  follow?: boolean;
  after?: string;
  json?: boolean;
}

/**
 * `orc logs <run>`: the run's events. With --follow it keeps streaming until the run ends or Ctrl-C;
 * every line starts with the event id, and `--after <id>` picks up exactly after it, so a stopped
 * follower can be restarted without missing anything. `--json`: one array, or with --follow one event
 * per line (JSON Lines), since a stream has no end to wait for. Into a file or a pipe every line is whole;
 * on a terminal each is cut to its width, and a note at the end says how to see them whole.
 */
export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description("print a run's events; --follow streams them as they happen")
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .option('-f, --follow', 'keep streaming until the run ends (Ctrl-C stops, the run goes on)')
    .option('--after <id>', 'only events after this id (the first number of each line)')
    .option('--json', 'JSON: an array of events; with --follow, one event per line')
    .action(async (ref: string, options: LogsOptions) => {
      const afterId = options.after === undefined ? 0 : Number(options.after);
      if (!Number.isInteger(afterId) || afterId < 0)
        throw new UsageError(`--after must be an event id (got "${options.after}")`);
      await withClient(async (client, connection) => {
        const runId = (await resolveRunRef(client, ref)).id;
        const run = await client.trpc.runs.get.query({ runId });
        const collected: OrcEvent[] = [];
        const width = process.stdout.isTTY ? process.stdout.columns || 80 : undefined;
        let cut = false;
        const note = () =>
          process.stdout.write(`(lines cut to fit; orc logs ${runId} | less shows them whole)\n`);
        const print = (event: OrcEvent) => {
          if (!options.json) {
            const line = eventLine(event);
            const shown = width === undefined ? line : truncateCells(line, width);
            process.stdout.write(`${shown}\n`);
            cut ||= shown !== line;
          } else if (options.follow) process.stdout.write(`${JSON.stringify(event)}\n`);
          else collected.push(event);
        };
        const upTo = run.lastEventId;
        // A finished or damaged run has nothing more to come: following it ends at its last event.
        const follow =
          options.follow === true && !FINISHED_RUN_STATUSES.has(run.status) && run.status !== 'damaged';
        if (follow || upTo > afterId) {
          await followEvents(client, {
            runId,
            afterId,
            onEvent: print,
            until: follow ? endsFollowing : (event) => event.id >= upTo,
            connection,
            ...(options.follow ? { signal: interruptSignal() } : {}),
          });
        }
        if (options.json && !options.follow) printJson(collected);
        // Once, at the end (the run's or Ctrl-C's), following too: at the first cut line it fell mid-stream.
        else if (cut) note();
      });
    });
}
