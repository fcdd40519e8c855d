import type { OrcEvent } from '@orc/shared';
import type { Logger } from 'pino';
import { TaskMasterWriteBack } from '../taskmaster/write-back.js';

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
): { stop: () => void; idle: () => Promise<void> } {
  const writeBack = new TaskMasterWriteBack({ file: source.file, tag: source.tag });
  const started = new Set<string>();
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

/** The worker's own "Summary:" paragraph when it wrote one, else the start of its result. */
export function summaryOf(result: string): string {
  const match = /^\s*\**summary\**:\s*([\s\S]+)$/im.exec(result);
  const text = (match?.[1] ?? result).trim();
  return text.length <= SUMMARY_LIMIT ? text : `${text.slice(0, SUMMARY_LIMIT)}…`;
}
