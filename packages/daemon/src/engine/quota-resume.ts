import type { OrcEvent, RunSummary } from '@orc/shared';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';

/** What the timed resume needs of a run. */
export interface ResumableRun {
  readonly id: string;
  summary(): RunSummary;
  resume(): void;
  onEvent(listener: (event: OrcEvent) => void): () => void;
}

/**
 * A run paused by a usage limit goes on by itself when the limit resets. The wait is on the absolute time
 * the pause recorded (`resumeAt`, kept in the run document), so a restored run still paused for it waits
 * only for what is left. A person may resume earlier. If the limit is still in force then, the next call
 * meets it again and the run pauses again with the new reset time: one refused call, no failed task.
 */
export function resumeAfterQuota(run: ResumableRun, clock: Clock, logger: Logger): { stop(): void } {
  let waiting: AbortController | undefined;
  const cancel = (): void => {
    waiting?.abort();
    waiting = undefined;
  };
  const arm = (resumeAt: string): void => {
    cancel();
    const controller = new AbortController();
    waiting = controller;
    const wait = Math.max(0, Date.parse(resumeAt) - clock.now());
    clock.sleep(wait, controller.signal).then(
      () => {
        if (waiting !== controller) return;
        waiting = undefined;
        const now = run.summary();
        if (now.status !== 'paused' || now.pauseReason !== 'quota') return;
        try {
          run.resume();
          logger.info({ runId: run.id, resumeAt }, 'the usage limit has reset; the run goes on');
        } catch (error) {
          logger.warn({ err: error, runId: run.id }, 'could not resume the run after its usage limit reset');
        }
      },
      () => undefined,
    );
  };

  const current = run.summary();
  if (current.status === 'paused' && current.pauseReason === 'quota' && current.resumeAt !== undefined) {
    arm(current.resumeAt);
  }
  const unsubscribe = run.onEvent((event) => {
    if (event.type === 'run.paused' && event.reason === 'quota' && event.resumeAt !== undefined) {
      arm(event.resumeAt);
    } else if (event.type === 'run.resumed' || (event.type === 'run.status' && event.status !== 'paused')) {
      cancel();
    }
  });
  return {
    stop() {
      unsubscribe();
      cancel();
    },
  };
}
