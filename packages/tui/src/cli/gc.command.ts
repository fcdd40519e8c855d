import { resolve } from 'node:path';
import { createClient, daemonStatus, gcWorktrees } from '@orc/daemon/client';
import { FINISHED_RUN_STATUSES } from '@orc/shared';
import type { Command } from 'commander';
import { emit } from './output.js';

/**
 * `orc gc`: removes worktrees that runs left behind in a repository (a crash, a killed daemon). Work found
 * in one is first committed to its attempt branch, so nothing an agent wrote is lost. Worktrees of runs
 * the daemon is still running are in use and stay.
 */
export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('remove worktrees left over by runs, keeping any work in them on their attempt branches')
    .option('--workdir <repo>', 'the repository (default: the current directory)')
    .option('--json', 'print one JSON document')
    .action(async (options: { workdir?: string; json?: boolean }) => {
      const repo = resolve(options.workdir ?? '.');
      const { removed, inUse } = await gcWorktrees(repo, { liveRuns: await liveRuns() });
      emit(options, { repo, removed, inUse }, () => [
        ...(removed.length === 0 ? [`no leftover worktree in ${repo}`] : []),
        ...removed.map((w) => `removed ${w.path}${w.keptOn ? `; its work is on ${w.keptOn}` : ''}`),
        ...inUse.map((w) => `kept ${w.path}: run ${w.runId} is still going`),
      ]);
    });
}

/** The runs a running daemon has not finished; none when no daemon runs (then no run can be going). */
async function liveRuns(): Promise<Set<string>> {
  const status = await daemonStatus();
  if (!status.running) return new Set();
  const client = await createClient();
  try {
    const runs = await client.trpc.runs.list.query();
    return new Set(runs.filter((run) => !FINISHED_RUN_STATUSES.has(run.status)).map((run) => run.id));
  } finally {
    await client.close();
  }
}
