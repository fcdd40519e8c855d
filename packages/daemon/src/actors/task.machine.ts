import {
  plural,
  withReviewCharge,
  editedTask,
  hasAnswerToReview,
  type Attempt,
  type SourceChange,
  type TaskChanges,
  type TaskRecord,
  type TaskReview,
  type TaskStatus,
  type Usage,
} from '@orc/shared';
import { and, assign, not, setup, type SnapshotFrom } from 'xstate';
import { notProvided } from './not-provided.js';

/** What a task actor remembers: its record without the status, which is the state it is in. */
export type TaskContext = Omit<TaskRecord, 'status'>;

/** What changes on an attempt as it goes (its charge, its end). */
export type AttemptChange = Partial<Omit<Attempt, 'n' | 'worker' | 'startedAt'>>;

/** What a call cost, added to the attempt it belongs to. */
export interface AttemptCharge {
  usage: Usage;
  costUsd: number;
}

/** What can happen to a task; its run sends these as its workers, its manager and people act. */
export type TaskEvent =
  /** Its last dependency is done (or skipped). */
  | { type: 'task.unblocked'; at: string }
  | { type: 'task.assign'; worker: number; at: string }
  /** A worker takes a task whose answer waits for its review (see `awaitsReview`): it goes to the review. */
  | { type: 'task.assign_review'; worker: number; at: string }
  | { type: 'task.attempt_began'; attempt: Attempt }
  | { type: 'task.attempt_changed'; n: number; change: AttemptChange }
  /**
   * Its attempt `n` answered: the attempt's end (`change`) and, while the task runs, on to its review.
   * One event, not a change and a move: a task's life is a handful of events, each a macrostep of XState.
   */
  | { type: 'task.answered'; n: number; change: AttemptChange }
  /** Its review's verdict, and what the review cost (`charge`, on its last attempt whatever it is doing). */
  | { type: 'task.reviewed'; review: TaskReview; charge: AttemptCharge; at: string }
  /** Accepted work landed on the run's integration branch. */
  | { type: 'task.merged'; at: string }
  | { type: 'task.merge_conflict'; feedback: string; files: string[]; at: string }
  /** Merged onto the integration head, `integration.verify` failed: the output tail is the feedback. */
  | { type: 'task.verify_failed'; feedback: string; reason: string; at: string }
  | { type: 'task.fail'; error: string; at: string }
  /** Its attempt was cut short (a crash, a rollback, a provider that pauses the run): it runs again. */
  | { type: 'task.interrupt'; at: string }
  /** It waits for a person: held at its source (Task Master, `imported`), or its work cannot be merged. */
  | { type: 'task.hold'; reason: string; imported: boolean; at: string }
  | { type: 'task.cancel'; at: string }
  | { type: 'task.skip'; at: string }
  | { type: 'task.retry' }
  /** A rollback put it back to the start. */
  | { type: 'task.reset' }
  /** A person changed it at the run's source (Task Master): shown on it, whatever it is doing. */
  | { type: 'task.source_changed'; change: SourceChange }
  /** Its error's advice follows the run's cost cap of a task, changed since it stopped at it. */
  | { type: 'task.error_revised'; error: string }
  /** The files its accepted change touched (a repository run). */
  | { type: 'task.touched'; files: string[] }
  /**
   * A person changed its spec; not while it is in flight or done. `waits`: a dependency it now has is not
   * done, so a ready task goes back to waiting. A cancelled task is held until it is edited or retried.
   */
  | { type: 'task.edit'; changes: TaskChanges; waits: boolean }
  /** Tasks it waited for left the plan: it no longer waits for them, whatever it is doing. */
  | { type: 'task.unlink'; removed: readonly string[] };

/** Statuses in which a task has a live actor; in the others it is its record only (see TaskSet). */
export const LIVE_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'ready',
  'running',
  'reviewing',
  'merging',
]);

/**
 * Whether the task's last attempt succeeded and its answer waits for a review: the review was cut off
 * (a crash, a pause, a rollback of the run's state). A worker then starts at the review, not at the work.
 */
export function awaitsReview(task: TaskRecord): boolean {
  return task.status === 'ready' && hasAnswerToReview(task);
}

/** The attempts with attempt `n` changed. */
function changeAttempt(attempts: Attempt[], n: number, change: AttemptChange): Attempt[] {
  return attempts.map((a) => (a.n === n ? { ...a, ...change } : a));
}

function changeLast(attempts: Attempt[], change: AttemptChange, onlyIfRunning = false): Attempt[] {
  const last = attempts.at(-1);
  if (!last || (onlyIfRunning && last.outcome !== 'running')) return attempts;
  return changeAttempt(attempts, last.n, change);
}

/** The attempts with the last one charged `charge` more and, when given, its review recorded. */
function chargeLast(attempts: Attempt[], charge: AttemptCharge, review?: TaskReview): Attempt[] {
  const last = attempts.at(-1);
  if (!last) return attempts;
  const { usage, costUsd, reviewSpend } = withReviewCharge(last, charge);
  return changeLast(attempts, { usage, costUsd, reviewSpend, ...(review && { review }) });
}

/** The feedback of the review the last attempt got. */
const reviewFeedback = (context: TaskContext) => context.attempts.at(-1)?.review?.feedback ?? '';

/**
 * The life of one task: pending → ready → running → reviewing → (merging →) done, or failed, blocked
 * (waits for a person), skipped, cancelled. The task's record is the machine's context and its status
 * the state, so the record a run saves is the task's persisted snapshot. The machine decides what an
 * event means: a review's verdict becomes done, merging, a rework or a failure within the run's bounds.
 *
 * Fields are cleared to undefined, not deleted: JSON drops them alike, and a record with deleted fields
 * becomes a slow dictionary-mode object for every later read and serialisation of it.
 */
export const taskMachine = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskEvent,
    input: {} as TaskContext,
  },
  guards: {
    /** Provided by the run: its `max_reworks` is not used up by this task. */
    canRework: notProvided('guard canRework'),
    /** Provided by the run: accepted work must be merged into a repository before it is done. */
    mergesWork: notProvided('guard mergesWork'),
    verdictIs: ({ event }, params: { verdict: TaskReview['verdict'] }) =>
      event.type === 'task.reviewed' && event.review.verdict === params.verdict,
  },
  actions: {
    /** The review's verdict and what it cost, on the last attempt. */
    recordReview: assign({
      attempts: ({ context, event }) =>
        event.type === 'task.reviewed'
          ? chargeLast(context.attempts, event.charge, event.review)
          : context.attempts,
    }),
    changeAttempt: assign({
      attempts: ({ context, event }) =>
        event.type === 'task.attempt_changed' || event.type === 'task.answered'
          ? changeAttempt(context.attempts, event.n, event.change)
          : context.attempts,
    }),
    /** Settled: no worker holds it, and when it settled is kept. */
    settle: assign({
      worker: undefined,
      finishedAt: ({ context, event }) => ('at' in event ? event.at : context.finishedAt),
    }),
    /** Retried: it starts over within fresh bounds. */
    retry: assign({
      error: undefined,
      held: undefined,
      sourceChange: undefined,
      reworks: 0,
      feedback: undefined,
      finishedAt: undefined,
    }),
    /** Sent back after its review accepted it (a merge conflict, a failed verify): its answer is dropped. */
    reworkAfresh: assign(({ context, event }) => ({
      reworks: context.reworks + 1,
      feedback:
        event.type === 'task.merge_conflict' || event.type === 'task.verify_failed'
          ? event.feedback
          : context.feedback,
      attempts: changeLast(context.attempts, { output: undefined, diff: undefined }),
    })),
    edit: assign(({ context, event }) =>
      event.type === 'task.edit' ? editedContext(context, event.changes) : {},
    ),
    queue: assign({
      worker: undefined,
      readyAt: ({ context, event }) => ('at' in event ? event.at : context.readyAt),
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => input,
  initial: 'pending',
  on: {
    // What an attempt cost and how it ended are facts, whatever the task is doing by the time they arrive.
    'task.attempt_changed': { actions: 'changeAttempt' },
    'task.answered': { actions: 'changeAttempt' },
    'task.reviewed': {
      actions: assign({ attempts: ({ context, event }) => chargeLast(context.attempts, event.charge) }),
    },
    'task.source_changed': { actions: assign({ sourceChange: ({ event }) => event.change }) },
    'task.touched': { actions: assign({ touched: ({ event }) => event.files }) },
    'task.error_revised': { actions: assign({ error: ({ event }) => event.error }) },
    'task.unlink': {
      actions: assign({
        dependencies: ({ context, event }) =>
          context.dependencies.filter((dep) => !event.removed.includes(dep)),
      }),
    },
    'task.reset': {
      target: '.pending',
      actions: assign({
        reworks: 0,
        result: undefined,
        error: undefined,
        worker: undefined,
        feedback: undefined,
        readyAt: undefined,
        startedAt: undefined,
        finishedAt: undefined,
        attempts: ({ context }) => changeLast(context.attempts, { outcome: 'interrupted' }, true),
      }),
    },
  },
  states: {
    pending: {
      on: {
        'task.edit': { actions: 'edit' },
        'task.unblocked': 'ready',
        'task.hold': 'blocked',
        'task.cancel': 'cancelled',
        'task.skip': 'skipped',
      },
    },
    ready: {
      entry: 'queue',
      on: {
        'task.edit': [
          {
            guard: ({ event }) => event.type === 'task.edit' && event.waits,
            target: 'pending',
            actions: 'edit',
          },
          { actions: 'edit' },
        ],
        'task.assign': {
          target: 'running',
          actions: assign({
            worker: ({ event }) => event.worker,
            startedAt: ({ context, event }) => context.startedAt ?? event.at,
          }),
        },
        'task.assign_review': {
          target: 'reviewing',
          actions: assign({ worker: ({ event }) => event.worker }),
        },
        'task.hold': 'blocked',
        'task.cancel': 'cancelled',
        'task.skip': 'skipped',
      },
    },
    running: {
      on: {
        'task.attempt_began': {
          actions: assign({ attempts: ({ context, event }) => [...context.attempts, event.attempt] }),
        },
        'task.answered': { target: 'reviewing', actions: 'changeAttempt' },
        'task.fail': 'failed',
        'task.interrupt': {
          target: 'ready',
          actions: assign({
            attempts: ({ context, event }) =>
              changeLast(context.attempts, { outcome: 'interrupted', endedAt: event.at }, true),
          }),
        },
        'task.cancel': {
          target: 'cancelled',
          actions: assign({
            attempts: ({ context, event }) =>
              changeLast(context.attempts, { outcome: 'cancelled', endedAt: event.at }, true),
          }),
        },
      },
    },
    reviewing: {
      on: {
        'task.reviewed': [
          {
            // Straight to done when nothing is to be merged: one step, not a stop in merging (a second
            // microstep for every task of a run that only talks).
            guard: and([{ type: 'verdictIs', params: { verdict: 'accept' as const } }, not('mergesWork')]),
            target: 'done',
            actions: 'recordReview',
          },
          {
            guard: { type: 'verdictIs', params: { verdict: 'accept' } },
            target: 'merging',
            actions: 'recordReview',
          },
          {
            guard: { type: 'verdictIs', params: { verdict: 'rework' } },
            target: 'sentBack',
            actions: 'recordReview',
          },
          {
            target: 'failed',
            actions: [
              'recordReview',
              assign({ error: ({ event }) => `rejected by the manager: ${event.review.feedback}` }),
            ],
          },
        ],
        'task.fail': 'failed',
        'task.interrupt': 'ready',
        'task.cancel': 'cancelled',
      },
    },
    /** Sent back by its review: another attempt with the feedback within the bound, else it failed. */
    sentBack: {
      always: [
        {
          guard: 'canRework',
          target: 'ready',
          actions: assign(({ context }) => ({
            reworks: context.reworks + 1,
            feedback: reviewFeedback(context),
          })),
        },
        {
          target: 'failed',
          actions: assign({
            error: ({ context }) =>
              `still not accepted after ${plural(context.reworks, 'rework')}: ${reviewFeedback(context)}`,
          }),
        },
      ],
    },
    /** Accepted; a task whose run edits a repository is done once its work is merged there. */
    merging: {
      always: { guard: not('mergesWork'), target: 'done' },
      on: {
        'task.merged': 'done',
        'task.merge_conflict': [
          {
            guard: 'canRework',
            target: 'ready',
            // Its answer no longer merges: the task is worked again, not sent back to its review.
            actions: 'reworkAfresh',
          },
          {
            target: 'blocked',
            actions: assign({
              error: ({ context, event }) =>
                `still conflicts after ${plural(context.reworks, 'rework')} (${event.files.join(', ')}); merge its branch by hand`,
            }),
          },
        ],
        'task.verify_failed': [
          {
            guard: 'canRework',
            target: 'ready',
            // Its answer breaks the verify: the task is worked again, not sent back to its review.
            actions: 'reworkAfresh',
          },
          {
            target: 'failed',
            actions: assign({
              error: ({ context, event }) =>
                `integration.verify still fails after ${plural(context.reworks, 'rework')}: ${event.reason}`,
            }),
          },
        ],
        'task.fail': 'failed',
        'task.interrupt': 'ready',
        'task.cancel': 'cancelled',
      },
    },
    done: {
      // Settled as `settle` does, in the same assign: every assign copies the context.
      entry: assign(({ context, event }) => {
        const last = context.attempts.at(-1);
        return {
          worker: undefined,
          finishedAt: 'at' in event ? event.at : context.finishedAt,
          // The accepted output is the task's result; keeping it twice would double the run document.
          result: last?.output ?? '',
          attempts: changeLast(context.attempts, { output: undefined, diff: undefined }),
          error: undefined,
          feedback: undefined,
        };
      }),
    },
    failed: {
      entry: [
        'settle',
        assign({ error: ({ context, event }) => (event.type === 'task.fail' ? event.error : context.error) }),
      ],
      on: {
        'task.retry': { target: 'pending', actions: 'retry' },
        'task.skip': 'skipped',
        'task.edit': { actions: 'edit' },
      },
    },
    blocked: {
      entry: [
        'settle',
        assign(({ context, event }) =>
          event.type === 'task.hold'
            ? { error: event.reason, held: event.imported ? event.reason : context.held }
            : {},
        ),
      ],
      on: {
        'task.retry': { target: 'pending', actions: 'retry' },
        'task.skip': 'skipped',
        'task.cancel': 'cancelled',
        'task.edit': { actions: 'edit' },
      },
    },
    skipped: {
      entry: 'settle',
      on: { 'task.retry': { target: 'pending', actions: 'retry' }, 'task.edit': { actions: 'edit' } },
    },
    /**
     * Held until a person edits or retries it (either sends it back to waiting, within fresh bounds), or
     * skips it: the run goes on, or finishes, without it.
     */
    cancelled: {
      entry: 'settle',
      on: {
        'task.retry': { target: 'pending', actions: 'retry' },
        'task.skip': 'skipped',
        'task.edit': { target: 'pending', actions: ['edit', 'retry'] },
      },
    },
  },
});

export type TaskSnapshot = SnapshotFrom<typeof taskMachine>;

/** The context with a person's changes to the spec (the fold's own rule, so both sides agree). */
function editedContext(context: TaskContext, changes: TaskChanges): Partial<TaskContext> {
  const { status: _status, ...edited } = editedTask({ ...context, status: 'pending' }, changes);
  return edited;
}
