import { answerHint, FINISHED_RUN_STATUSES } from '@orc/shared';
import type { Command } from 'commander';
import { withClient } from './daemon-connection.js';
import { emit } from './output.js';
import { writeRunJson } from './run-json-stream.js';
import { runReport, taskReport } from './run-report.js';
import { resolveRunRef } from './run-ref.js';
import { waitsLines } from './inbox.command.js';
import { unplacedLine, workerLines } from './worker-lines.js';
import { oneLine } from '../screen/text-cells.js';

/**
 * `orc show <run>`: the run and every task with its attempts, verdicts and errors. `orc show <run> <task>`:
 * one task whole (result, every attempt's output and review) and, for a repository run, its diff.
 */
export function registerShowCommand(program: Command): void {
  program
    .command('show')
    .description(
      "show a run: every task's attempts, verdicts and errors; with a task: all of it and its diff",
    )
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .argument('[task]', 'a task id: its result, attempts and diff in full')
    .option('--json', 'print one JSON document')
    .action(async (ref: string, taskId: string | undefined, options: { json?: boolean }) => {
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
        if (taskId !== undefined) {
          const [task, diff] = await Promise.all([
            client.trpc.tasks.get.query({ runId, taskId }),
            client.trpc.tasks.diff.query({ runId, taskId }),
          ]);
          emit(options, { runId, ...task, ...(diff && { diff }) }, () =>
            taskReport(runId, task, diff ?? undefined, Date.now()),
          );
          return;
        }
        if (options.json) {
          const inbox = await client.trpc.inbox.list.query({ runId });
          await writeRunJson(client, runId, process.stdout, {
            inbox: { items: inbox.items, waits: inbox.waits },
          });
          return;
        }
        const [run, inbox, remote] = await Promise.all([
          client.trpc.runs.get.query({ runId, full: true }),
          client.trpc.inbox.list.query({ runId }),
          client.trpc.daemon.workers.query(),
        ]);
        const now = Date.now();
        // On the Redis backend a live run's attempts wait, shown running, until an orc worker takes them.
        const idle =
          remote &&
          !FINISHED_RUN_STATUSES.has(run.status) &&
          (!remote.reachable || remote.workers.length === 0);
        const notes = [
          ...inbox.items.map(
            (item) => `needs you: ${item.id} ${item.type}: ${oneLine(item.question)} (${answerHint(item)})`,
          ),
          ...waitsLines(inbox.waits, run),
          ...(idle ? workerLines(remote) : []),
          ...(remote && !idle && !FINISHED_RUN_STATUSES.has(run.status)
            ? unplacedLine(
                run.id,
                run.tasks.filter((task) => task.status === 'running').map((task) => task.id),
                remote,
              )
            : []),
        ];
        process.stdout.write(`${runReport(run, now, notes).join('\n')}\n`);
      });
    });
}
