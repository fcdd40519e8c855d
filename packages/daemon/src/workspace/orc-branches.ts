/**
 * The branches one run owns, all starting with `orc/<runId>`:
 *
 * - `orc/<runId>`: the integration branch, one commit per accepted task;
 * - `orc/<runId>-tasks/<taskId>`: the current attempt of a task, checked out in its worktree;
 * - `orc/<runId>-attempts/<taskId>/<n>`: what attempt n left behind when its worktree went away.
 *
 * Git cannot hold both `orc/r1` and `orc/r1/t1` (a ref is a file, and a file cannot also be a folder),
 * so task and attempt branches sit beside the integration branch rather than under it.
 */
export const orcBranches = {
  integration: (runId: string): string => `orc/${runId}`,
  task: (runId: string, taskId: string): string => `orc/${runId}-tasks/${refComponent(taskId)}`,
  attempt: (runId: string, taskId: string, attempt: number | string): string =>
    `orc/${runId}-attempts/${refComponent(taskId)}/${attempt}`,
  /** Every task branch of a run, for `for-each-ref`. */
  taskPrefix: (runId: string): string => `refs/heads/orc/${runId}-tasks/`,
};

const HEADS = 'refs/heads/';

export function fullRef(branch: string): string {
  return branch.startsWith(HEADS) ? branch : `${HEADS}${branch}`;
}

/** The run and task a task branch belongs to, or undefined for any other ref. */
export function parseTaskBranch(ref: string): { runId: string; taskComponent: string } | undefined {
  const match = /^(?:refs\/heads\/)?orc\/([^/]+)-tasks\/([^/]+)$/.exec(ref);
  return match ? { runId: match[1]!, taskComponent: match[2]! } : undefined;
}

/**
 * Task ids are letters, digits, ".", "_" and "-"; a few of those spellings are not valid in a ref
 * (`..`, a leading ".", a trailing "." or ".lock"). Those ids are spelled in hex instead.
 */
export function refComponent(taskId: string): string {
  const safe =
    /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(taskId) &&
    !taskId.includes('..') &&
    !taskId.endsWith('.') &&
    !taskId.endsWith('.lock');
  return safe ? taskId : `x-${Buffer.from(taskId, 'utf8').toString('hex')}`;
}
