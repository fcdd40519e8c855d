import type { OrcEvent, TaskStatus } from '@orc/shared';

/** What a journal must show however often its daemon was killed: each entry one broken promise. */
export interface JournalVerdict {
  /** Tasks done by the journal's account at its end (a rollback's reset undoes a completion). */
  done: Set<string>;
  violations: string[];
}

/** The tasks done in a checkpoint: what a full or partial rollback to it makes of the tasks it resets. */
export type CheckpointDone = (checkpointId: string) => ReadonlySet<string>;

/**
 * Reads a run's journal, in order, for what a crash must never cause: event ids with a gap or out of
 * order, a task completed twice with no rollback resetting it between, a finished task assigned to a
 * worker again, and a worker's journalled answer paid for again (another attempt began while the
 * answer still waited for its review).
 */
export function checkJournal(events: readonly OrcEvent[], checkpointDone: CheckpointDone): JournalVerdict {
  const violations: string[] = [];
  const done = new Set<string>();
  /** Tasks whose answer is journalled (`task.worked`) and not yet reviewed. */
  const answered = new Map<string, number>();
  events.forEach((event, i) => {
    if (event.id !== i + 1) violations.push(`event ${i + 1} has id ${event.id}`);
    switch (event.type) {
      case 'run.rolled_back': {
        // A task the rollback changed is as the checkpoint had it (started over, for a selective one):
        // done again when the checkpoint, taken before an earlier rollback, had it done.
        const saved = event.strategy === 'selective' ? new Set<string>() : checkpointDone(event.checkpointId);
        for (const id of event.resetTasks) {
          if (saved.has(id)) done.add(id);
          else done.delete(id);
          answered.delete(id);
        }
        return;
      }
      case 'task.assigned':
        if (done.has(event.taskId))
          violations.push(`${event.taskId} was done and ran again (event ${event.id})`);
        if (answered.has(event.taskId))
          violations.push(
            `${event.taskId}'s answer of attempt ${answered.get(event.taskId)} was paid again by attempt ${event.attempt} (event ${event.id})`,
          );
        return;
      case 'task.worked':
        answered.set(event.taskId, event.attempt);
        return;
      case 'task.reviewed':
      case 'task.attempt_failed':
      case 'task.failed':
        answered.delete(event.taskId);
        return;
      case 'task.completed':
        if (done.has(event.taskId)) violations.push(`${event.taskId} completed twice (event ${event.id})`);
        done.add(event.taskId);
        answered.delete(event.taskId);
        return;
      default:
        return;
    }
  });
  return { done, violations };
}

/** Where the run's saved document and its journal disagree on which tasks are done. */
export function documentDisagreements(
  documentTasks: readonly { id: string; status: TaskStatus }[],
  journalDone: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  for (const task of documentTasks) {
    const journalSays = journalDone.has(task.id);
    if (journalSays !== (task.status === 'done'))
      out.push(
        `${task.id} is ${task.status} in the document, ${journalSays ? '' : 'not '}done in the journal`,
      );
  }
  return out;
}
