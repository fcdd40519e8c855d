import type { TaskRecord } from '@orc/shared';
import { taskDiff } from '../workspace/task-diff.js';
import type { LinesChanged } from './run-report.js';

/**
 * What each done task of a repository run changed, counted from its diff on the integration branch.
 * One `git log` and `git show` per task, one task at a time: a report is asked for now and then, and git
 * on two cores is faster one process at a time than many at once.
 */
export async function linesChanged(
  workdir: string,
  runId: string,
  tasks: readonly TaskRecord[],
): Promise<Map<string, LinesChanged>> {
  const lines = new Map<string, LinesChanged>();
  for (const task of tasks) {
    if (task.status !== 'done') continue;
    const diff = await taskDiff(workdir, runId, task.id).catch(() => undefined);
    if (diff) lines.set(task.id, countLines(diff.diff));
  }
  return lines;
}

/** Lines added and removed in a unified diff, file headers left out. */
export function countLines(diff: string): LinesChanged {
  let added = 0;
  let removed = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    if (line.startsWith('+')) added++;
    else if (line.startsWith('-')) removed++;
  }
  return { added, removed };
}
