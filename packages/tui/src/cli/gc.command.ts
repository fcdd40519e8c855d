import { resolve } from 'node:path';
import { createClient, daemonStatus, gcWorktrees } from '@orc/daemon/client';
import { FINISHED_RUN_STATUSES, resolveStateDir } from '@orc/shared';
import type { Command } from 'commander';
import { emit } from './output.js';

/**
 * `orc gc`: removes worktrees that runs left behind (a crash, a killed daemon). They live in the state
 * directory, so it works from any directory: every repository with worktrees there, or only the one
 * given. Work found in a worktree is first committed to its attempt branch, so nothing an agent wrote is
 * lost. Worktrees of runs the daemon is still running are in use and stay.
 */
export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('remove worktrees left over by runs, keeping any work in them on their attempt branches')
    .option('--workdir <repo>', 'only this repository (default: every repository with leftover worktrees)')
    .option('--json', 'print one JSON document')
    .action(async (options: { workdir?: string; json?: boolean }) => {
      const repo = options.workdir === undefined ? undefined : resolve(options.workdir);
      const { removed, inUse, orphaned } = await gcWorktrees({
        home: resolveStateDir(),
        ...(repo !== undefined && { repo }),
        liveRuns: await liveRuns(),
      });
      emit(options, { ...(repo !== undefined && { repo }), removed, inUse, orphaned }, () => [
        ...(removed.length === 0 ? [`no leftover worktree${repo === undefined ? '' : ` in ${repo}`}`] : []),
        ...removed.map((w) => `removed ${w.path}${w.keptOn ? `; its work is on ${w.keptOn}` : ''}`),
        ...inUse.map((w) => `kept ${w.path}: run ${w.runId} is still going`),
        ...orphaned.map((path) => `left ${path}: its repository is gone, so its files are the only copy`),
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
