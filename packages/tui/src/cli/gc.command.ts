import { resolve } from 'node:path';
import { createClient, daemonStatus, gcWorktrees, unfinishedRunsIn } from '@orc/daemon/client';
import { FINISHED_RUN_STATUSES, resolveStateDir, statePaths } from '@orc/shared';
import type { Command } from 'commander';
import { CommandFailed } from './cli-error.js';
import { emit } from './output.js';

/**
 * `orc gc`: removes worktrees that runs left behind (a crash, a killed daemon). They live in the state
 * directory, so it works from any directory: every repository with worktrees there, or only the one
 * given. Work found in a worktree is first committed to its attempt branch, so nothing an agent wrote is
 * lost. Worktrees of runs that have not finished stay: the daemon runs them, or resumes them when it starts.
 */
export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('remove worktrees left over by runs, keeping any work in them on their attempt branches')
    .option('--workdir <repo>', 'only this repository (default: every repository with leftover worktrees)')
    .option('--json', 'print one JSON document')
    .action(async (options: { workdir?: string; json?: boolean }) => {
      const repo = options.workdir === undefined ? undefined : resolve(options.workdir);
      const home = resolveStateDir();
      const daemon = await daemonStatus();
      const unfinished = daemon.running ? await liveRuns() : unfinishedRuns(home);
      const { removed, inUse, orphaned } = await gcWorktrees({
        home,
        ...(repo !== undefined && { repo }),
        ...(daemon.running ? { liveRuns: unfinished } : { resumableRuns: unfinished }),
      });
      const why = daemon.running
        ? 'is still going'
        : 'has not finished: it goes on there when the daemon starts (orc daemon start)';
      emit(options, { ...(repo !== undefined && { repo }), removed, inUse, orphaned }, () => [
        ...(removed.length === 0 ? [`no leftover worktree${repo === undefined ? '' : ` in ${repo}`}`] : []),
        ...removed.map((w) => `removed ${w.path}${w.keptOn ? `; its work is on ${w.keptOn}` : ''}`),
        ...inUse.map((w) => `kept ${w.path}: run ${w.runId} ${why}`),
        ...orphaned.map((path) => `left ${path}: its repository is gone, so its files are the only copy`),
      ]);
    });
}

/** The runs the running daemon has not finished. */
async function liveRuns(): Promise<Set<string>> {
  const client = await createClient();
  try {
    const runs = await client.trpc.runs.list.query();
    return new Set(runs.filter((run) => !FINISHED_RUN_STATUSES.has(run.status)).map((run) => run.id));
  } finally {
    await client.close();
  }
}

/**
 * With no daemon, the runs its index (`runs/index.json`) does not call finished: a crash or a stop left
 * them, and the daemon resumes each where it was, its sessions in their worktrees. Removing those
 * worktrees made the resumed attempts start over.
 */
function unfinishedRuns(home: string): Set<string> {
  const file = statePaths(home).index;
  const runs = unfinishedRunsIn(file);
  if (runs === undefined) {
    throw new CommandFailed(
      `${file} cannot be read, so which runs will resume is unknown; start the daemon (orc daemon start rebuilds it), then orc gc`,
    );
  }
  return runs;
}
