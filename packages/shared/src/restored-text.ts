import type { OrcEvent } from './events.js';

type Restored = Extract<OrcEvent, { type: 'run.restored' }>;

/**
 * What a restart did to the tasks it cut off, for `orc logs` and the screen's event pane alike: which
 * are run again, and which keep their answer and only have its review made again (a trial read "run
 * again: t4" of a task whose attempt was kept). Empty when nothing was cut off.
 */
export function restoredText(event: Pick<Restored, 'interruptedTasks' | 'reviewAgain'>): string {
  const reviewed = new Set(event.reviewAgain ?? []);
  const rerun = event.interruptedTasks.filter((id) => !reviewed.has(id));
  const reviewedAgain = event.interruptedTasks.filter((id) => reviewed.has(id));
  return [
    ...(rerun.length > 0 ? [`interrupted, and run again: ${rerun.join(', ')}`] : []),
    ...(reviewedAgain.length > 0
      ? [`interrupted in review, the answer kept and reviewed again: ${reviewedAgain.join(', ')}`]
      : []),
  ].join('; ');
}
