import { git } from './git.js';
import type { GitWorkspace } from './git-workspace.js';
import { fullRef, orcBranches } from './orc-branches.js';

/**
 * The files a task's branch changed against the integration commit its attempt started from, at most
 * `limit` (a task that rewrote thousands of files tells the scheduler little more by naming them all).
 */
export async function changedFiles(
  workspace: GitWorkspace,
  taskId: string,
  limit: number,
): Promise<string[]> {
  const base = await workspace.baseOf(taskId);
  const tip = fullRef(orcBranches.task(workspace.runId, taskId));
  const names = await git(['diff', '--name-only', '-z', '--no-renames', base, tip], workspace.repo, {
    maxOutputBytes: limit * 512,
  });
  const files = names.stdout.split('\0').filter((name) => name !== '');
  // Cut output ends inside a name: that one is left out.
  if (names.truncated) files.pop();
  return files.slice(0, limit);
}
