import { idList, type RunView } from '@orc/shared';
import { formatDuration } from './format.js';

/**
 * The merge train in a line, for the header and `orc show`: what is being verified (and for how long),
 * what waits for it, and the last verdict. Undefined when the run has no train or it has nothing to say.
 */
export function trainLine(view: RunView, now: number): string | undefined {
  const train = view.train;
  const verifying = new Set(train?.verifying?.taskIds ?? []);
  const waiting = view.tasks
    .filter((task) => task.status === 'merging' && !verifying.has(task.id))
    .map((task) => task.id);
  if (!train && waiting.length === 0) return undefined;
  const parts: string[] = [];
  if (train?.verifying) {
    const what =
      train.verifying.taskIds.length === 0 ? 'the integration head' : train.verifying.taskIds.join(', ');
    const since = Math.max(0, now - Date.parse(train.verifying.since));
    parts.push(`verifying ${what} at ${train.verifying.commit.slice(0, 12)} (${formatDuration(since)})`);
  }
  if (waiting.length > 0) parts.push(`waiting ${idList(waiting, 6)}`);
  if (train?.last) {
    const { taskIds, passed, reason } = train.last;
    const what = taskIds.length === 0 ? 'integration head' : taskIds.join(', ');
    parts.push(`last: ${what} ${passed ? 'passed' : `failed (${reason ?? 'no reason'})`}`);
  }
  return parts.length === 0 ? undefined : `train: ${parts.join(' · ')}`;
}
