import { FINISHED_RUN_STATUSES, type RunSummary } from '@orc/shared';
import type { Command } from 'commander';
import { plural } from '../screen/format.js';
import { parseAge } from './age-argument.js';
import { CommandFailed, EXIT, UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit } from './output.js';
import { matchRunRef } from './run-ref.js';

/**
 * `orc rm` and `orc prune`: delete finished runs (their state, events and checkpoints in the state
 * directory), or damaged ones. A live run is never removed: it is cancelled first. Branches a repository run left in the
 * repository are the user's and stay.
 */
export function registerRemoveCommands(program: Command): void {
  program
    .command('rm')
    .description('remove finished runs: their state, events and checkpoints (not their git branches)')
    .argument('<runs...>', 'run ids (or unique prefixes, or last)')
    .option('--json', 'print one JSON document')
    .action(async (refs: string[], options: { json?: boolean }) => {
      await withClient(async (client) => {
        const all = await client.trpc.runs.list.query();
        const runs = [...new Map(refs.map((ref) => matchRunRef(all, ref)).map((r) => [r.id, r])).values()];
        // Every run is checked before any is removed: a mistake changes nothing. A damaged run is not
        // live (it is never run, and cannot be cancelled): it may go.
        const live = runs.find((run) => !FINISHED_RUN_STATUSES.has(run.status) && run.status !== 'damaged');
        if (live) {
          throw new CommandFailed(
            `run ${live.id} is ${live.status}; cancel it first (orc cancel ${live.id}), then remove it`,
            EXIT.conflict,
          );
        }
        for (const run of runs) await client.trpc.runs.remove.mutate({ runId: run.id });
        emit(options, { removed: runs.map((run) => run.id) }, () => runs.map(removedLine));
      });
    });

  program
    .command('prune')
    .description('remove every finished run that ended longer ago than --older-than (never a live run)')
    .option('--older-than <age>', 'how long ago the run ended: 30m, 12h, 7d, 2w')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print one JSON document')
    .action(async (options: { olderThan?: string; dryRun?: boolean; json?: boolean }) => {
      if (options.olderThan === undefined)
        throw new UsageError(
          'orc prune needs --older-than <age>, like 7d (runs that ended more than 7 days ago)',
        );
      const age = parseAge(options.olderThan, '--older-than');
      await withClient(async (client) => {
        const cutoff = Date.now() - age;
        const runs = (await client.trpc.runs.list.query()).filter(
          (run) =>
            FINISHED_RUN_STATUSES.has(run.status) && Date.parse(run.finishedAt ?? run.updatedAt) < cutoff,
        );
        if (!options.dryRun) for (const run of runs) await client.trpc.runs.remove.mutate({ runId: run.id });
        const ids = runs.map((run) => run.id);
        emit(options, options.dryRun ? { wouldRemove: ids } : { removed: ids }, () =>
          runs.length === 0
            ? `no finished run ended more than ${options.olderThan} ago`
            : runs.map((run) => (options.dryRun ? `would remove ${describe(run)}` : removedLine(run))),
        );
      });
    });
}

function removedLine(run: RunSummary): string {
  return `removed ${describe(run)}`;
}

function describe(run: RunSummary): string {
  return `${run.id} (${run.status}, ${plural(run.taskTotal, 'task')}, ended ${run.finishedAt ?? run.updatedAt})`;
}
