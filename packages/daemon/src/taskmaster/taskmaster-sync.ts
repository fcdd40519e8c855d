import type { OrcEvent, TaskRecord } from '@orc/shared';
import type { Logger } from 'pino';
import { TaskMasterWriteBack, type TaskOutcome } from './write-back.js';

/** How much of a worker's result goes into Task Master's `details`. */
const SUMMARY_LIMIT = 2000;

/**
 * Keeps a Task Master tasks.json in step with a run: `in-progress` when a task starts, `done` with the
 * worker's summary when the manager accepts it, back to `pending` with the reason when it fails or the run
 * is cancelled. Writes go through Task Master's lock, one at a time; a failed write is logged and the run
 * goes on (the run's own records stay the truth).
 */
export function syncToTaskMaster(
  source: { file: string; tag: string },
  subscribe: (listener: (event: OrcEvent) => void) => () => void,
  logger: Logger,
  /** A run restored after a restart: its tasks, to catch the file up with writes the restart lost. */
  restored?: readonly TaskRecord[],
): { stop: () => void; idle: () => Promise<void> } {
  const writeBack = new TaskMasterWriteBack({ file: source.file, tag: source.tag });
  const started = new Set<string>();
  if (restored) catchUp(writeBack, restored, started, logger);
  const write = (what: string, taskId: string, change: Promise<void>) =>
    change.catch((error: unknown) =>
      logger.warn({ err: error, taskId, file: source.file }, `could not write ${what} back to Task Master`),
    );
  const stop = subscribe((event) => {
    switch (event.type) {
      case 'task.assigned':
        if (started.has(event.taskId)) break;
        started.add(event.taskId);
        void write('in-progress', event.taskId, writeBack.markStarted(event.taskId));
        break;
      case 'task.completed':
        void write('done', event.taskId, writeBack.markDone(event.taskId, summaryOf(event.result)));
        break;
      case 'task.failed':
        started.delete(event.taskId);
        void write('the failure', event.taskId, writeBack.markFailed(event.taskId, event.error));
        break;
      case 'task.status':
        if (event.status === 'cancelled' && started.delete(event.taskId)) {
          void write(
            'the cancellation',
            event.taskId,
            writeBack.markFailed(event.taskId, 'the run was cancelled'),
          );
        }
        break;
      default:
        break;
    }
  });
  return { stop, idle: () => writeBack.idle() };
}

/** Queued before any new event's write, so the file goes through the same states as the run. */
function catchUp(
  writeBack: TaskMasterWriteBack,
  tasks: readonly TaskRecord[],
  started: Set<string>,
  logger: Logger,
): void {
  const outcomes: TaskOutcome[] = [];
  for (const task of tasks) {
    if (task.status === 'done')
      outcomes.push({ id: task.id, status: 'done', note: summaryOf(task.result ?? '') });
    else if (task.status === 'failed')
      outcomes.push({ id: task.id, status: 'failed', note: task.error ?? 'it failed' });
    else if (task.status === 'cancelled' && task.attempts.length > 0)
      outcomes.push({ id: task.id, status: 'failed', note: 'the run was cancelled' });
    // Begun before the restart and not over: a cancellation later must put it back to pending.
    else if (task.attempts.length > 0 && task.status !== 'skipped') started.add(task.id);
  }
  if (outcomes.length === 0) return;
  writeBack.reconcile(outcomes).then(
    (changed) => {
      if (changed.length > 0)
        logger.info({ tasks: changed, file: writeBack.file }, 'caught Task Master up after a restart');
    },
    (error: unknown) =>
      logger.warn({ err: error, file: writeBack.file }, 'could not catch Task Master up after a restart'),
  );
}

/** The worker's own "Summary:" paragraph when it wrote one, else the start of its result. */
export function summaryOf(result: string): string {
  const match = /^\s*\**summary\**:\s*([\s\S]+)$/im.exec(result);
  const text = (match?.[1] ?? result).trim();
  return text.length <= SUMMARY_LIMIT ? text : `${text.slice(0, SUMMARY_LIMIT)}…`;
}
