import type { TaskDiff } from '@orc/shared';
import { git } from './git.js';
import { fullRef, orcBranches } from './orc-branches.js';
import { bounded } from './tree-merge.js';

/** What `orc show <run> <task>` prints of a diff at most; beyond it the text says where it was cut. */
const SHOWN_DIFF_BYTES = 1024 * 1024;

/**
 * A repository run's change for one task, read from git alone (the run need not be open): the commit the
 * merge train made for it on `orc/<runId>` (trailers `Orc-Run`, `Orc-Task`), else what its task branch
 * holds past the integration branch. Undefined when the task left nothing in the repository.
 */
export async function taskDiff(repo: string, runId: string, taskId: string): Promise<TaskDiff | undefined> {
  const integration = fullRef(orcBranches.integration(runId));
  const log = await git(
    [
      'log',
      '--first-parent',
      '--all-match',
      `--grep=^Orc-Run: ${escapeRegex(runId)}$`,
      `--grep=^Orc-Task: ${escapeRegex(taskId)}$`,
      '--format=%H',
      '-n',
      '1',
      integration,
      '--',
    ],
    repo,
    { okExitCodes: [128] },
  );
  const commit = log.exitCode === 0 ? log.stdout.trim() : '';
  if (commit) {
    const shown = await git(['show', '--no-color', '--format=', '--patch', '--stat', commit], repo, {
      maxOutputBytes: SHOWN_DIFF_BYTES,
    });
    return { source: `commit ${commit.slice(0, 12)} on ${orcBranches.integration(runId)}`, diff: cut(shown) };
  }
  const taskRef = fullRef(orcBranches.task(runId, taskId));
  const base = await git(['merge-base', integration, taskRef], repo, { okExitCodes: [1, 128] });
  if (base.exitCode !== 0) return undefined;
  const diff = await git(['diff', '--no-color', '--stat', '--patch', base.stdout.trim(), taskRef], repo, {
    maxOutputBytes: SHOWN_DIFF_BYTES,
  });
  if (diff.stdout.trim() === '') return undefined;
  return { source: `branch ${orcBranches.task(runId, taskId)} (not merged)`, diff: cut(diff) };
}

function cut(result: { stdout: string; truncated: boolean }): string {
  return result.truncated ? bounded(result.stdout, SHOWN_DIFF_BYTES, true) : result.stdout;
}

/** Run and task ids are letters, digits, ".", "_" and "-": only "." means something to git's regex. */
function escapeRegex(text: string): string {
  return text.replace(/\./g, '\\.');
}
