import type { AttemptError, TaskReview } from '@orc/shared';
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { Clock } from '../clock.js';
import { backoffDelay, describeCallFailure, type CallFailure } from '../model/model-error.js';

/** What the worker is handed: one task, and how many tokens its answer may use. */
export interface WorkerAssignment {
  taskId: string;
  maxTokens: number;
}

export interface WorkInput extends WorkerAssignment {
  worker: number;
}
export interface WorkOutput {
  text: string;
}
export interface ReviewInput {
  worker: number;
  taskId: string;
  text: string;
}

/** Emitted to the run, which owns the task records. */
export type WorkerEmitted =
  | { type: 'worker.work_done'; worker: number; taskId: string; text: string }
  | { type: 'worker.reviewed'; worker: number; taskId: string; review: TaskReview }
  | {
      type: 'worker.attempt_failed';
      worker: number;
      taskId: string;
      phase: 'work' | 'review';
      error: AttemptError;
      retryInMs: number;
    }
  | {
      type: 'worker.gave_up';
      worker: number;
      taskId: string;
      phase: 'work' | 'review';
      error: AttemptError;
      /** Retrying cannot help until a person acts (logged out, usage limit): the run should pause. */
      pauseRun: boolean;
    }
  | { type: 'worker.rate_limited'; worker: number }
  | { type: 'worker.call_succeeded'; worker: number };

/** How many times one task waits out a rate limit before it gives up. */
export const RATE_LIMITED_RETRY_LIMIT = 50;

export type WorkerEvent =
  { type: 'worker.assign'; assignment: WorkerAssignment } | { type: 'worker.release' };

export interface WorkerContext {
  index: number;
  maxRetries: number;
  retryBaseMs: number;
  assignment: WorkerAssignment | undefined;
  text: string;
  /** Failed calls for the current task, for the backoff and the retry bound. */
  retries: number;
  /**
   * Calls refused by a rate limit (429, 529). They say nothing about the task, so they do not use up
   * `maxRetries`; they have their own, larger bound so a key that is never let through still ends.
   */
  rateLimitedRetries: number;
  /** Where to go back to after a backoff. */
  phase: 'work' | 'review';
  lastError: CallFailure | undefined;
  backoffUntil: number;
  /** Workers are never persisted (a restored run starts fresh ones), so the clock may live here. */
  clock: Clock;
}

export interface WorkerInput {
  index: number;
  maxRetries: number;
  clock: Clock;
  retryBaseMs?: number;
}

/**
 * One worker of a run: idle → working (the task's model call) → reviewing (the manager's verdict on it)
 * → idle, with backoff between retries. Transient and recoverable failures are retried up to
 * `maxRetries` with exponential backoff that honours `retry-after`; permanent ones give the task up.
 * The work and review calls, and the wait, are named actors the run provides, so a restored or tested
 * worker runs whatever it is given.
 */
export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
    emitted: {} as WorkerEmitted,
  },
  actors: {
    work: fromPromise<WorkOutput, WorkInput>(() => Promise.reject(new Error('work actor not provided'))),
    review: fromPromise<TaskReview, ReviewInput>(() =>
      Promise.reject(new Error('review actor not provided')),
    ),
    /** Waits until an absolute time, so a restored wait does not start over. */
    waitUntil: fromPromise<void, { until: number }>(() =>
      Promise.reject(new Error('waitUntil actor not provided')),
    ),
  },
  guards: {
    canRetry: ({ context }) =>
      context.lastError !== undefined &&
      context.lastError.category !== 'permanent' &&
      (context.lastError.rateLimited === true
        ? context.rateLimitedRetries < RATE_LIMITED_RETRY_LIMIT
        : context.retries < context.maxRetries),
    inReview: ({ context }) => context.phase === 'review',
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({
    index: input.index,
    maxRetries: input.maxRetries,
    retryBaseMs: input.retryBaseMs ?? 500,
    assignment: undefined,
    text: '',
    retries: 0,
    rateLimitedRetries: 0,
    phase: 'work',
    lastError: undefined,
    backoffUntil: 0,
    clock: input.clock,
  }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        'worker.assign': {
          target: 'working',
          actions: assign({
            assignment: ({ event }) => event.assignment,
            retries: 0,
            rateLimitedRetries: 0,
            text: '',
            lastError: undefined,
          }),
        },
      },
    },
    working: {
      entry: assign({ phase: 'work' }),
      invoke: {
        src: 'work',
        input: ({ context }) => ({ ...context.assignment!, worker: context.index }),
        onDone: {
          target: 'reviewing',
          actions: [
            assign({ text: ({ event }) => event.output.text }),
            emit(({ context }) => ({ type: 'worker.call_succeeded', worker: context.index })),
            emit(({ context, event }) => ({
              type: 'worker.work_done',
              worker: context.index,
              taskId: context.assignment!.taskId,
              text: event.output.text,
            })),
          ],
        },
        onError: {
          target: 'failing',
          actions: assign({ lastError: ({ event }) => describeCallFailure(event.error) }),
        },
      },
    },
    reviewing: {
      entry: assign({ phase: 'review' }),
      invoke: {
        src: 'review',
        input: ({ context }) => ({
          worker: context.index,
          taskId: context.assignment!.taskId,
          text: context.text,
        }),
        onDone: {
          target: 'idle',
          actions: [
            emit(({ context }) => ({ type: 'worker.call_succeeded', worker: context.index })),
            emit(({ context, event }) => ({
              type: 'worker.reviewed',
              worker: context.index,
              taskId: context.assignment!.taskId,
              review: event.output,
            })),
            assign({ assignment: undefined, text: '' }),
          ],
        },
        onError: {
          target: 'failing',
          actions: assign({ lastError: ({ event }) => describeCallFailure(event.error) }),
        },
      },
    },
    failing: {
      always: [
        {
          guard: 'canRetry',
          target: 'backoff',
          actions: [
            assign(({ context }) => {
              const error = context.lastError!;
              const delay = backoffDelay(
                context.retries + context.rateLimitedRetries,
                error.retryAfterMs,
                Math.random,
                context.retryBaseMs,
              );
              return {
                ...(error.rateLimited
                  ? { rateLimitedRetries: context.rateLimitedRetries + 1 }
                  : { retries: context.retries + 1 }),
                backoffUntil: context.clock.now() + delay,
                // A recoverable failure (the answer hit max_tokens, or timed out) gets more room next time.
                assignment:
                  error.category === 'recoverable'
                    ? { ...context.assignment!, maxTokens: context.assignment!.maxTokens * 2 }
                    : context.assignment,
              };
            }),
            enqueueActions(({ context, enqueue }) => {
              if (context.lastError!.rateLimited)
                enqueue.emit({ type: 'worker.rate_limited', worker: context.index });
            }),
            emit(({ context }) => ({
              type: 'worker.attempt_failed',
              worker: context.index,
              taskId: context.assignment!.taskId,
              phase: context.phase,
              error: { category: context.lastError!.category, message: context.lastError!.message },
              retryInMs: Math.max(0, context.backoffUntil - context.clock.now()),
            })),
          ],
        },
        {
          target: 'idle',
          actions: [
            emit(({ context }) => ({
              type: 'worker.gave_up',
              worker: context.index,
              taskId: context.assignment!.taskId,
              phase: context.phase,
              error: { category: context.lastError!.category, message: context.lastError!.message },
              pauseRun: context.lastError!.pauseRun === true,
            })),
            assign({ assignment: undefined, text: '' }),
          ],
        },
      ],
    },
    backoff: {
      invoke: {
        src: 'waitUntil',
        input: ({ context }) => ({ until: context.backoffUntil }),
        onDone: [{ guard: 'inReview', target: 'reviewing' }, { target: 'working' }],
      },
    },
  },
  on: {
    // Cancel, pause-for-good, rollback: stopping the invoked call aborts its signal.
    'worker.release': { target: '.idle', actions: assign({ assignment: undefined, text: '' }) },
  },
});
