import { FINISHED_RUN_STATUSES, RunStatus, type RunSummary } from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit, summaryJson } from './output.js';
import { runTable } from './run-table.js';
import { workerLines } from './worker-lines.js';

/** Names `--status` takes besides the statuses themselves. */
const STATUS_GROUPS: Record<string, (status: RunStatus) => boolean> = {
  live: (status) => !FINISHED_RUN_STATUSES.has(status),
  finished: (status) => FINISHED_RUN_STATUSES.has(status),
};

/** `orc ls`: the daemon's runs, oldest first, as an aligned table. */
export function registerLsCommand(program: Command): void {
  program
    .command('ls')
    .description('list runs: id, status, age, time, cost, tasks done, goal')
    .option(
      '--status <statuses>',
      `only runs in these states, comma-separated: ${[...RunStatus.options, ...Object.keys(STATUS_GROUPS)].join(', ')}`,
    )
    .option('--json', 'print one JSON document')
    .action(async (options: { status?: string; json?: boolean }) => {
      const wanted = options.status === undefined ? undefined : statusFilter(options.status);
      await withClient(async (client) => {
        const [all, inbox, remote] = await Promise.all([
          client.trpc.runs.list.query(),
          client.trpc.inbox.list.query(),
          client.trpc.daemon.workers.query(),
        ]);
        const workers = remote ? ['', ...workerLines(remote)] : [];
        const runs = wanted ? all.filter((run) => wanted(run.status)) : all;
        emit(options, runs.map(summaryJson), () => {
          const waiting = inbox.items.length;
          if (runs.length > 0)
            return [
              ...runTable(runs, Date.now(), process.stdout.isTTY ? process.stdout.columns : undefined),
              // For a person at a terminal; a script reading the table gets the table.
              ...(waiting > 0 && process.stdout.isTTY
                ? [
                    `${waiting} item${waiting === 1 ? '' : 's'} wait${waiting === 1 ? 's' : ''} for you: orc inbox`,
                  ]
                : []),
              ...workers,
            ];
          return [
            all.length === 0
              ? 'no runs yet; start one with orc run <goal>'
              : `no run is ${options.status}; orc ls lists all ${all.length}`,
            ...workers,
          ];
        });
      });
    });
}

function statusFilter(text: string): (status: RunSummary['status']) => boolean {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const tests = names.map((name) => {
    const group = STATUS_GROUPS[name];
    if (group) return group;
    if (!RunStatus.safeParse(name).success) {
      throw new UsageError(
        `--status takes ${[...RunStatus.options, ...Object.keys(STATUS_GROUPS)].join(', ')} (got "${name}")`,
      );
    }
    return (status: RunStatus) => status === name;
  });
  if (tests.length === 0) throw new UsageError('--status needs at least one status, e.g. --status failed');
  return (status) => tests.some((test) => test(status));
}
