import type { AttemptError, PauseReason, TaskReview } from '@orc/shared';
import { assign, emit, enqueueActions, fromCallback, fromPromise, sendTo, setup } from 'xstate';
import type { Clock } from '../clock.js';
import { backoffDelay, describeCallFailure, type CallFailure } from '../model/model-error.js';
import type { Random } from '../model/seeded-random.js';
import { notProvided, notProvidedActor } from './not-provided.js';

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
      /** The call was stopped because its task was taken back; nothing failed. */
      cancelled: boolean;
      /** Why, when not `provider`: `quota` (a usage limit) or `budget`. */
      pauseReason?: PauseReason;
      /** When the usage limit resets (epoch ms), if known: the run resumes by itself then. */
      resumeAt?: number;
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

/** The worker to its caller. Calls are numbered, so the answer to a call given up on is recognised. */
type CallRequest =
  | { type: 'call.work'; callId: number; input: WorkInput }
  | { type: 'call.review'; callId: number; input: ReviewInput }
  | { type: 'call.abort' };

/** The caller back to the worker. */
type CallAnswer =
  | { type: 'call.worked'; callId: number; output: WorkOutput }
  | { type: 'call.reviewed'; callId: number; review: TaskReview }
  | { type: 'call.failed'; callId: number; error: unknown };

export type WorkerEvent = WorkerCommand | CallAnswer;

/**
 * The worker's caller: one actor for the worker's life that makes each call it is asked for and sends
 * the answer back. Tasks are short and many: an actor per call (an invoked promise) cost a run of
 * 10,000 tasks a fifth of its CPU, most of it creating, registering and collecting 20,000 actors.
 */
export function workerCaller(calls: WorkerCalls) {
  return fromCallback<CallRequest>(({ sendBack, receive }) => {
    let current: AbortController | undefined;
    let stopped = false;
    receive((request) => {
      current?.abort();
      current = undefined;
      if (request.type === 'call.abort') return;
      const abort = new AbortController();
      current = abort;
      const { callId } = request;
      const answer = (event: CallAnswer) => {
        if (current === abort) current = undefined;
        // The call aborted by the worker's stop answers too: a stopped worker takes no events.
        if (!stopped) sendBack(event);
      };
      const call =
        request.type === 'call.work'
          ? calls
              .work(request.input, abort.signal)
              .then((output): CallAnswer => ({ type: 'call.worked', callId, output }))
          : calls
              .review(request.input, abort.signal)
              .then((review): CallAnswer => ({ type: 'call.reviewed', callId, review }));
      call.then(answer, (error: unknown) => answer({ type: 'call.failed', callId, error }));
    });
    return () => {
      stopped = true;
      current?.abort();
    };
  });
}

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

const callsNotProvided = () => Promise.reject(new Error('worker calls not provided'));

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

/**
 * One worker of a run: idle → working (the task's model call) → reviewing (the manager's verdict on it)
 * → idle, with backoff between retries. Transient and recoverable failures are retried up to
 * `maxRetries` with exponential backoff that honours `retry-after`; permanent ones give the task up.
 * The calls go through the `caller` actor and the wait is the `waitUntil` actor; the run provides both,
 * so a restored or tested worker runs whatever it is given.
 */
export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
    emitted: {} as WorkerEmitted,
  },
  actors: {
    caller: workerCaller({ work: callsNotProvided, review: callsNotProvided }),
    /** Waits until an absolute time, so a restored wait does not start over. */
    waitUntil: fromPromise<void, { until: number }>(notProvidedActor('actor waitUntil')),
  },
  actions: {
    /** Provided by the run: sets `backoffMs` and `backoffUntil` from its clock and its random jitter. */
    scheduleBackoff: notProvided('action scheduleBackoff'),
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
  context: ({ input }) => ({
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
  }),
  invoke: { id: 'caller', src: 'caller' },
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
      entry: [
        assign({ phase: 'work', callId: ({ context }) => context.callId + 1 }),
        sendTo('caller', ({ context }) => ({
          type: 'call.work' as const,
          callId: context.callId,
          input: { ...context.assignment!, worker: context.index },
        })),
      ],
      on: {
        'call.worked': {
          guard: 'currentCall',
          target: 'reviewing',
          actions: [
            assign({ text: ({ event }) => event.output.text }),
            emit(({ context, event }) => ({
              type: 'worker.work_done',
              worker: context.index,
              taskId: context.assignment!.taskId,
              text: event.output.text,
            })),
          ],
        },
        'call.failed': {
          guard: 'currentCall',
          target: 'failing',
          actions: assign({ lastError: ({ event }) => describeCallFailure(event.error) }),
        },
      },
    },
    reviewing: {
      entry: [
        assign({ phase: 'review', callId: ({ context }) => context.callId + 1 }),
        sendTo('caller', ({ context }) => ({
          type: 'call.review' as const,
          callId: context.callId,
          input: { worker: context.index, taskId: context.assignment!.taskId, text: context.text },
        })),
      ],
      on: {
        'call.reviewed': {
          guard: 'currentCall',
          target: 'idle',
          actions: [
            emit(({ context, event }) => ({
              type: 'worker.reviewed',
              worker: context.index,
              taskId: context.assignment!.taskId,
              review: event.review,
            })),
            assign({ assignment: undefined, text: '' }),
          ],
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
              retryInMs: context.backoffMs,
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
              cancelled: context.lastError!.cancelled === true,
              ...(context.lastError!.pauseReason !== undefined && {
                pauseReason: context.lastError!.pauseReason,
              }),
              ...(context.lastError!.resumeAt !== undefined && { resumeAt: context.lastError!.resumeAt }),
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
    // Cancel, pause-for-good, rollback: the call in flight is aborted and its answer, if any, ignored.
    'worker.release': {
      target: '.idle',
      actions: [sendTo('caller', { type: 'call.abort' }), assign({ assignment: undefined, text: '' })],
    },
  },
});
