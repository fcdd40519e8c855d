import type { AttemptError, PauseReason, TaskReview } from '@orc/shared';
import { assign, setup } from 'xstate';
import type { Clock } from '../clock.js';
import { backoffDelay, describeCallFailure, type CallFailure } from '../model/model-error.js';
import type { Random } from '../model/seeded-random.js';
import { notProvided } from './not-provided.js';

/** What the worker is handed: one task, and how many tokens its answer may use. */
export interface WorkerAssignment {
  taskId: string;
  maxTokens: number;
  /** The answer of an attempt that already succeeded: the worker starts at its review. */
  worked?: string;
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

/** What a worker tells its run (see WorkerActor), which owns the task records. */
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
      /** Failed before its attempt began: the attempt it names is the task's next. */
      beforeAttempt?: boolean;
    }
  | {
      type: 'worker.gave_up';
      worker: number;
      taskId: string;
      phase: 'work' | 'review';
      error: AttemptError;
      /** Retrying cannot help until a person acts (logged out, usage limit): the run should pause. */
      pauseRun: boolean;
      /** The call was stopped because its task was taken back; nothing failed. */
      cancelled: boolean;
      /** Why, when not `provider`: `quota` (a usage limit) or `budget`. */
      pauseReason?: PauseReason;
      /** When the usage limit resets (epoch ms), if known: the run resumes by itself then. */
      resumeAt?: number;
      /** Failed before its attempt began: the attempt it names is the task's next. */
      beforeAttempt?: boolean;
    }
  | { type: 'worker.rate_limited'; worker: number };

/** How many times one task waits out a rate limit before it gives up. */
export const RATE_LIMITED_RETRY_LIMIT = 50;

/** What the run sends a worker. */
export type WorkerCommand =
  { type: 'worker.assign'; assignment: WorkerAssignment } | { type: 'worker.release' };

/**
 * The model calls a worker makes; the run provides them. A call's signal aborts when the worker lets
 * its task go (cancel, pause, rollback) or stops.
 */
export interface WorkerCalls {
  work(input: WorkInput, signal: AbortSignal): Promise<WorkOutput>;
  review(input: ReviewInput, signal: AbortSignal): Promise<TaskReview>;
}

/** The answers to the worker's calls, numbered so the answer to a call given up on is recognised. */
type CallAnswer =
  | { type: 'call.worked'; callId: number; output: WorkOutput }
  | { type: 'call.reviewed'; callId: number; review: TaskReview }
  | { type: 'call.failed'; callId: number; error: unknown };

/** Its backoff is over: it tries again. */
type Waited = { type: 'worker.waited' };

export type WorkerEvent = WorkerCommand | CallAnswer | Waited;

/**
 * The worker's `scheduleBackoff`: exponential backoff from `baseMs` with jitter from `random`, or what the
 * server's `retry-after` said, timed on `clock`.
 */
export function scheduleBackoffOn(clock: Clock, random: Random, baseMs: number) {
  return assign<WorkerContext, WorkerEvent, undefined, WorkerEvent, never>(({ context }) => {
    const ms = backoffDelay(
      context.retries + context.rateLimitedRetries,
      context.lastError?.retryAfterMs,
      random,
      baseMs,
    );
    return { backoffMs: ms, backoffUntil: clock.now() + ms };
  });
}

export interface WorkerContext {
  index: number;
  maxRetries: number;
  assignment: WorkerAssignment | undefined;
  text: string;
  /** Failed calls for the current task, for the backoff and the retry bound. */
  retries: number;
  /**
   * Calls refused by a rate limit (429, 529). They say nothing about the task, so they do not use up
   * `maxRetries`; they have their own, larger bound so a key that is never let through still ends.
   */
  rateLimitedRetries: number;
  /** The number of the call in flight; answers to other calls are stale. */
  callId: number;
  /** Where to go back to after a backoff. */
  phase: 'work' | 'review';
  lastError: CallFailure | undefined;
  /** The wait before the next try (ms), and when it ends (epoch ms). */
  backoffMs: number;
  backoffUntil: number;
}

export interface WorkerInput {
  index: number;
  maxRetries: number;
}

/** What a worker starts with. */
export function initialWorkerContext(input: WorkerInput): WorkerContext {
  return {
    index: input.index,
    maxRetries: input.maxRetries,
    assignment: undefined,
    text: '',
    retries: 0,
    rateLimitedRetries: 0,
    callId: 0,
    phase: 'work',
    lastError: undefined,
    backoffMs: 0,
    backoffUntil: 0,
  };
}

/** The states of a worker (its record's `status`). */
export type WorkerState = 'idle' | 'working' | 'reviewing' | 'failing' | 'backoff';

/**
 * One worker of a run: idle → working (the task's model call) → reviewing (the manager's verdict on it)
 * → idle, with backoff between retries. Transient and recoverable failures are retried up to
 * `maxRetries` with exponential backoff that honours `retry-after`; permanent ones give the task up.
 *
 * Its actions are all assigns; what its states mean is carried out by its actor (WorkerActor): in
 * `working` and `reviewing` a call is in flight (call `callId`, answered by `call.*`), in `backoff` a
 * wait until `backoffUntil` (ended by `worker.waited`), and a release aborts the call. Its actor tells
 * the run what its moves mean: `worker.work_done` (working → reviewing), `worker.reviewed` (reviewing →
 * idle), `worker.attempt_failed` (→ backoff, after `worker.rate_limited` for a rate limit) and
 * `worker.gave_up` (a failure → idle).
 */
export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
  },
  actions: {
    /** Provided by the run: sets `backoffMs` and `backoffUntil` from its clock and its random jitter. */
    scheduleBackoff: assign<WorkerContext, WorkerEvent, undefined, WorkerEvent, never>(
      notProvided('action scheduleBackoff'),
    ),
  },
  guards: {
    // An error that pauses the run (Redis gone, a usage limit) fails every try alike: a retry would only
    // spend the task's attempts (4 in 2 s each, seen with Redis down).
    canRetry: ({ context }) =>
      context.lastError !== undefined &&
      context.lastError.category !== 'permanent' &&
      context.lastError.pauseRun !== true &&
      (context.lastError.rateLimited === true
        ? context.rateLimitedRetries < RATE_LIMITED_RETRY_LIMIT
        : context.retries < context.maxRetries),
    inReview: ({ context }) => context.phase === 'review',
    currentCall: ({ context, event }) => 'callId' in event && event.callId === context.callId,
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => initialWorkerContext(input),
  initial: 'idle',
  states: {
    idle: {
      on: {
        'worker.assign': [
          {
            guard: ({ event }) => event.assignment.worked !== undefined,
            target: 'reviewing',
            actions: assign({
              assignment: ({ event }) => event.assignment,
              retries: 0,
              rateLimitedRetries: 0,
              text: ({ event }) => event.assignment.worked ?? '',
              lastError: undefined,
            }),
          },
          {
            target: 'working',
            actions: assign({
              assignment: ({ event }) => event.assignment,
              retries: 0,
              rateLimitedRetries: 0,
              text: '',
              lastError: undefined,
            }),
          },
        ],
      },
    },
    working: {
      entry: assign({ phase: 'work', callId: ({ context }) => context.callId + 1 }),
      on: {
        'call.worked': {
          guard: 'currentCall',
          target: 'reviewing',
          actions: assign({ text: ({ event }) => event.output.text }),
        },
        'call.failed': {
          guard: 'currentCall',
          target: 'failing',
          actions: assign({ lastError: ({ event }) => describeCallFailure(event.error) }),
        },
      },
    },
    reviewing: {
      entry: assign({ phase: 'review', callId: ({ context }) => context.callId + 1 }),
      on: {
        'call.reviewed': {
          guard: 'currentCall',
          target: 'idle',
          actions: assign({ assignment: undefined, text: '' }),
        },
        'call.failed': {
          guard: 'currentCall',
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
            'scheduleBackoff',
            assign(({ context }) => {
              const error = context.lastError!;
              return {
                ...(error.rateLimited
                  ? { rateLimitedRetries: context.rateLimitedRetries + 1 }
                  : { retries: context.retries + 1 }),
                // A recoverable failure (the answer hit max_tokens, or timed out) gets more room next time.
                assignment:
                  error.category === 'recoverable'
                    ? { ...context.assignment!, maxTokens: context.assignment!.maxTokens * 2 }
                    : context.assignment,
              };
            }),
          ],
        },
        { target: 'idle', actions: assign({ assignment: undefined, text: '' }) },
      ],
    },
    backoff: {
      on: { 'worker.waited': [{ guard: 'inReview', target: 'reviewing' }, { target: 'working' }] },
    },
  },
  on: {
    // Cancel, pause-for-good, rollback: the call in flight is aborted and its answer, if any, ignored.
    'worker.release': { target: '.idle', actions: assign({ assignment: undefined, text: '' }) },
  },
});
