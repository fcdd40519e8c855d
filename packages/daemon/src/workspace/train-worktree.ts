import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { git } from './git.js';

/**
 * Checks `commit` out, detached and without what the last verify left untracked, in the merge train's
 * worktree at `path`, made on first use. Ignored files stay (node_modules, build caches): a verify of
 * `npm test` need not install everything again for every candidate.
 */
export async function checkoutTrain(repo: string, path: string, commit: string): Promise<void> {
  if (!existsSync(join(path, '.git'))) {
    // A folder a crash left half made, or a worktree entry whose folder went.
    await removeTrainWorktree(repo, path);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await git(['worktree', 'add', '--quiet', '--detach', '--force', path, commit], repo);
    return;
  }
  await git(['checkout', '--quiet', '--detach', '--force', commit], path);
  await git(['clean', '-ffdq'], path);
}

/** The train's worktree goes without keeping anything: it holds verified commits and build output only. */
export async function removeTrainWorktree(repo: string, path: string): Promise<void> {
  await git(['worktree', 'remove', '--force', '--force', path], repo, { okExitCodes: [128] });
  await git(['worktree', 'prune'], repo);
}
