import { resolve } from 'node:path';
import { gcWorktrees } from '@orc/daemon/client';
import type { Command } from 'commander';
import { emit } from './output.js';

/**
 * `orc gc`: removes worktrees that runs left behind in a repository (a crash, a killed daemon). Work found
 * in one is first committed to its attempt branch, so nothing an agent wrote is lost.
 */
export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('remove worktrees left over by runs, keeping any work in them on their attempt branches')
    .option('--workdir <repo>', 'the repository (default: the current directory)')
    .option('--json', 'print one JSON document')
    .action(async (options: { workdir?: string; json?: boolean }) => {
      const repo = resolve(options.workdir ?? '.');
      const removed = await gcWorktrees(repo);
      emit(options, { repo, removed }, () =>
        removed.length === 0
          ? `no leftover worktree in ${repo}`
          : removed.map((w) => `removed ${w.path}${w.keptOn ? `; its work is on ${w.keptOn}` : ''}`),
      );
    });
}
