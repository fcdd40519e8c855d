import {
  rolledBackMessage,
  rollingBackMessage,
  type FinalReview,
  type PauseReason,
  type RollbackStrategy,
  type RunStatus,
  type TaskRecord,
  type TaskSpec,
} from '@orc/shared';
import { assign, fromPromise, setup, transition, type SnapshotFrom } from 'xstate';
import { managerMachine, type PlanResult } from './manager.machine.js';
import { notProvided, notProvidedActor } from './not-provided.js';

/** A rollback a person asked for, carried in the state so a rollback cut short by a crash goes on. */
export interface RollbackRequest {
  checkpointId: string;
  strategy: RollbackStrategy;
  tasks: string[] | undefined;
}

/** What a rollback did: the tasks it reset, and the done ones it left done with the same result. */
export interface RollbackOutcome {
  reset: string[];
  kept: string[];
}

/**
 * A rollback ready to be made: the task records it leaves (and the plan's summary, for a full one). Made
 * by the `rollback` actor without changing the run; the run takes it in the same step as it leaves
 * `rollingBack`, so a saved run is either before the rollback or after it, never half-way.
 */
export interface RollbackPlan extends RollbackOutcome {
  tasks: TaskRecord[];
  planSummary: string | undefined;
}

export type RunEvent =
  /** A person pauses the run. */
  | { type: 'run.pause'; message?: string }
  /** The next attempt would pass `max_cost_usd`. */
  | { type: 'run.budget_reached'; message: string }
  /** The provider refused the key or the account: every call would fail alike. */
  | { type: 'run.provider_refused'; message: string }
  /**
   * The quota is out; until `until` (epoch ms) when the reset is known: the run goes on by itself then.
   * `model` is the model whose quota it waits for.
   */
  | { type: 'run.quota_wait'; until?: number; model?: string; message: string }
  /** The state directory cannot be written: nothing may be reported done until it can. */
  | { type: 'run.storage_failed'; message: string }
  /** The file the tasks come from (Task Master) cannot be read: a person fixes it and resumes. */
  | { type: 'run.source_unavailable'; message: string }
  /** The merge train's verify cannot run, or fails on the integration head itself: a person fixes it. */
  | { type: 'run.verify_broken'; message: string }
  /** Every task left waits for one a person cancelled and holds: the run waits for them to edit, retry or remove it. */
  | { type: 'run.held'; message: string }
  /** The Redis server attempts go through cannot be reached: the run goes on by itself once it can. */
  | { type: 'run.backend_lost'; message: string }
  | { type: 'run.resume' }
  | { type: 'run.cancel' }
  /** A person approved the plan the run waits with (`execution.approve_plan`). */
  | { type: 'run.approve' }
  /** A person asked the manager to plan again, with what to change. */
  | { type: 'run.replan'; feedback: string }
  /** A person refused the plan: the run is cancelled. */
  | { type: 'run.refuse' }
  /** Every task is settled and nothing is in flight. */
  | { type: 'run.settled' }
  /** A retry or a skip gave a finished run work again. */
  | { type: 'run.reopen' }
  | ({ type: 'run.rollback' } & RollbackRequest)
  /** The daemon stops: in-flight work gets its grace, then everything is saved. */
  | { type: 'run.close' };

export interface RunInput {
  runId: string;
  goal: string;
  imported: TaskSpec[] | undefined;
  maxRepairs: number;
  maxRetries: number;
}

export interface RunContext extends RunInput {
  error: string | undefined;
  /** What a person asked the manager to change in its plan, for the next planning. */
  planFeedback?: string | undefined;
  /** What the pause says to a person, and when a quota pause ends by itself (epoch ms), for which model. */
  pause: { message?: string; until?: number; model?: string } | undefined;
  rollback: RollbackRequest | undefined;
}

/** Every way into a pause, each to the pause of its reason. */
const pauseTransitions = {
  'run.pause': { target: '#run.paused.user', actions: 'rememberPause' },
  'run.budget_reached': { target: '#run.paused.budget', actions: 'rememberPause' },
  'run.provider_refused': { target: '#run.paused.provider', actions: 'rememberPause' },
  'run.quota_wait': { target: '#run.paused.quota', actions: 'rememberPause' },
  'run.storage_failed': { target: '#run.paused.storage', actions: 'rememberPause' },
  'run.source_unavailable': { target: '#run.paused.source', actions: 'rememberPause' },
  'run.verify_broken': { target: '#run.paused.verify', actions: 'rememberPause' },
  'run.held': { target: '#run.paused.held', actions: 'rememberPause' },
  'run.backend_lost': { target: '#run.paused.backend', actions: 'rememberPause' },
} as const;

/** Entering a pause announces it, with its reason and what it says to a person. */
const announcePause = (reason: PauseReason) =>
  ({
    type: 'announce',
    params: ({ context }: { context: RunContext }) => ({
      status: 'paused' as const,
      reason,
      message: context.pause?.message,
      resumeAt: context.pause?.until,
      model: context.pause?.model,
    }),
  }) as const;

const startRollback = {
  target: '#run.rollingBack',
  actions: ['rememberRollback', 'beginRollback'],
} as const;

/**
 * One run (the seed's ClaudeOrchestrator). Its states are what a person sees: analyzing (the manager
 * plans) → executing (workers take ready tasks) → settling (accepted work lands, write-backs catch up) →
 * reviewing (the manager's final review) → completed | failed, or cancelled; paused for a reason from
 * executing; rolling back to a checkpoint; closing when the daemon stops.
 *
 * The run's tasks, workers and budget belong to the `Run` that provides the actions, guards and actors
 * (each throws when not provided). What is persisted is this machine's snapshot, never `closing`: a run
 * closed by a daemon stop comes back in the state it was in. A restored snapshot re-runs what its state
 * invokes (the manager, the settling, the final review, a quota wait, a rollback), but not entry actions:
 * the `Run` starts the work of a run restored in `executing` itself.
 */
export const runMachine = setup({
  types: {
    context: {} as RunContext,
    input: {} as RunInput,
    events: {} as RunEvent,
  },
  actors: {
    manager: managerMachine,
    /** Accepted work merged, the journal and the write-backs caught up: the run can be reviewed. */
    settle: fromPromise<void>(notProvidedActor('actor settle')),
    finalReview: fromPromise<FinalReview>(notProvidedActor('actor finalReview')),
    /**
     * Makes the rollback ready (the repository's side included) and resolves with what it leaves; safe
     * to run again after a crash (a restored run in `rollingBack` does).
     */
    rollback: fromPromise<RollbackPlan, RollbackRequest>(notProvidedActor('actor rollback')),
    /**
     * Resolves at the quota's reset (epoch ms; an absolute time, so a restored wait does not start
     * over), or never when the reset is not known and a person must resume the run.
     */
    quotaReset: fromPromise<void, { until: number | undefined }>(notProvidedActor('actor quotaReset')),
    /** Resolves once the state directory takes a write again. */
    probeStorage: fromPromise<void>(notProvidedActor('actor probeStorage')),
    probeBackend: fromPromise<void>(notProvidedActor('actor probeBackend')),
    /** Gives in-flight work its grace period, then stops it and saves the run. */
    drain: fromPromise<void>(notProvidedActor('actor drain')),
  },
  actions: {
    rememberPause: assign({
      pause: ({ event }) => ({
        ...('message' in event && event.message !== undefined && { message: event.message }),
        ...(event.type === 'run.quota_wait' && event.until !== undefined && { until: event.until }),
        ...(event.type === 'run.quota_wait' && event.model !== undefined && { model: event.model }),
      }),
    }),
    rememberRollback: assign({
      rollback: ({ event }) =>
        event.type === 'run.rollback'
          ? { checkpointId: event.checkpointId, strategy: event.strategy, tasks: event.tasks }
          : undefined,
    }),
    /** Tells a person what the run now does (the events a client folds), once per change. */
    announce: notProvided<{
      status: RunStatus;
      reason?: PauseReason;
      message?: string;
      resumeAt?: number;
      model?: string;
    }>('action announce'),
    applyPlan: notProvided<{ result: PlanResult }>('action applyPlan'),
    /** Journals that the rollback began (`run.rollback_started`): from then on it happens, crash or not. */
    beginRollback: notProvided('action beginRollback'),
    /** Takes the rollback in: the task records, and `run.rolled_back` journalled. */
    commitRollback: notProvided<{ plan: RollbackPlan }>('action commitRollback'),
    /** Journals that the rollback could not be made (`run.rollback_failed`); nothing changed. */
    rollbackFailed: notProvided<{ error: unknown }>('action rollbackFailed'),
    /** The final review, or why it could not be written (the run ends either way). */
    storeFinalReview: notProvided<{ review?: FinalReview; error?: unknown }>('action storeFinalReview'),
    /** Workers take ready tasks (on entering executing). */
    startWork: notProvided('action startWork'),
    /** Stops every worker and cancels every task that has not settled. */
    cancelWork: notProvided('action cancelWork'),
    /** Stamps and announces the end of the run; `error` is why a run failed before it had tasks. */
    finish: notProvided<{ error: string | undefined }>('action finish'),
  },
  guards: {
    planFailed: (_, params: { result: PlanResult }) => !params.result.ok,
    /** Every task is done, skipped, or held at its source. */
    allTasksDone: notProvided('guard allTasksDone'),
    /** A person approves the plan before work starts (`execution.approve_plan`, planned runs). */
    approvalRequired: notProvided('guard approvalRequired'),
  },
}).createMachine({
  id: 'run',
  context: ({ input }) => ({ ...input, error: undefined, pause: undefined, rollback: undefined }),
  initial: 'analyzing',
  on: { 'run.close': '.closing' },
  states: {
    analyzing: {
      on: { 'run.cancel': 'cancelled' },
      invoke: {
        id: 'manager',
        src: 'manager',
        input: ({ context }) => ({
          goal: context.goal,
          imported: context.imported,
          maxRepairs: context.maxRepairs,
          maxRetries: context.maxRetries,
          feedback: context.planFeedback,
        }),
        onDone: [
          {
            guard: { type: 'planFailed', params: ({ event }) => ({ result: event.output }) },
            target: 'failed',
            actions: assign({ error: ({ event }) => (event.output.ok ? undefined : event.output.error) }),
          },
          {
            guard: 'approvalRequired',
            target: 'awaitingApproval',
            actions: [
              { type: 'applyPlan', params: ({ event }) => ({ result: event.output }) },
              assign({ imported: undefined, planFeedback: undefined }),
            ],
          },
          {
            target: 'executing',
            actions: [
              { type: 'applyPlan', params: ({ event }) => ({ result: event.output }) },
              // The tasks now live in the run's records; the persisted snapshot need not carry them twice.
              assign({ imported: undefined, planFeedback: undefined }),
            ],
          },
        ],
      },
    },
    /** Planned; nothing is dispatched until a person approves the plan, has it changed, or refuses it. */
    awaitingApproval: {
      entry: { type: 'announce', params: { status: 'awaiting_approval' as const } },
      on: {
        'run.approve': 'executing',
        'run.replan': {
          target: 'analyzing',
          // Announced here, not on entering analyzing (a new run already is): without it the run would
          // stay awaiting_approval to itself while its clients fold `run.planning` into analyzing, and
          // the new plan's awaiting_approval would never be announced.
          actions: [
            assign({ planFeedback: ({ event }) => event.feedback }),
            { type: 'announce', params: { status: 'analyzing' as const } },
          ],
        },
        'run.refuse': 'cancelled',
        'run.cancel': 'cancelled',
      },
    },
    executing: {
      entry: [
        assign({ pause: undefined }),
        { type: 'announce', params: { status: 'executing' as const } },
        'startWork',
      ],
      on: {
        ...pauseTransitions,
        'run.settled': 'settling',
        'run.rollback': startRollback,
        'run.cancel': 'cancelled',
      },
    },
    paused: {
      // A snapshot saved before pauses had reasons of their own comes back as paused by a person.
      initial: 'user',
      on: {
        ...pauseTransitions,
        'run.resume': 'executing',
        'run.rollback': startRollback,
        'run.cancel': 'cancelled',
      },
      states: {
        user: { entry: announcePause('user') },
        budget: { entry: announcePause('budget') },
        provider: { entry: announcePause('provider') },
        quota: {
          entry: announcePause('quota'),
          invoke: {
            src: 'quotaReset',
            input: ({ context }) => ({ until: context.pause?.until }),
            onDone: '#run.executing',
          },
        },
        storage: {
          entry: announcePause('storage'),
          // Another failed write while it waits: the probe goes on, with the latest reason.
          on: { 'run.storage_failed': { actions: 'rememberPause' } },
          invoke: { src: 'probeStorage', onDone: '#run.executing' },
        },
        source: { entry: announcePause('source') },
        verify: { entry: announcePause('verify') },
        held: { entry: announcePause('held') },
        /** Rolled back (or the rollback failed): it waits for a person to look and resume. */
        rollback: { entry: announcePause('rollback') },
        backend: {
          entry: announcePause('backend'),
          on: { 'run.backend_lost': { actions: 'rememberPause' } },
          invoke: { src: 'probeBackend', onDone: '#run.executing' },
        },
      },
    },
    rollingBack: {
      entry: {
        type: 'announce',
        params: ({ context }) => ({
          status: 'paused' as const,
          reason: 'rollback' as const,
          message: rollingBackMessage(context.rollback?.checkpointId ?? 'a checkpoint'),
        }),
      },
      invoke: {
        src: 'rollback',
        input: ({ context }) => context.rollback!,
        onDone: {
          target: 'paused.rollback',
          actions: [
            { type: 'commitRollback', params: ({ event }) => ({ plan: event.output }) },
            assign(({ context }) => ({
              rollback: undefined,
              pause: { message: rolledBackMessage(context.rollback?.checkpointId ?? 'a checkpoint', true) },
            })),
          ],
        },
        // The rollback's caller hears why; the run waits for a person either way.
        onError: {
          target: 'paused.rollback',
          actions: [
            { type: 'rollbackFailed', params: ({ event }) => ({ error: event.error }) },
            assign(({ context }) => ({
              rollback: undefined,
              pause: { message: rolledBackMessage(context.rollback?.checkpointId ?? 'a checkpoint', false) },
            })),
          ],
        },
      },
    },
    settling: {
      entry: { type: 'announce', params: { status: 'reviewing' as const } },
      // What settling waits for (the journal, write-backs) needs the disk: the run waits for it paused,
      // then settles again from executing.
      on: { 'run.cancel': 'cancelled', 'run.storage_failed': pauseTransitions['run.storage_failed'] },
      invoke: { src: 'settle', onDone: 'reviewing', onError: 'reviewing' },
    },
    reviewing: {
      on: {
        'run.cancel': 'cancelled',
        'run.storage_failed': pauseTransitions['run.storage_failed'],
        // The final review would pass the run's budget: it waits, as an attempt would, and is made on resume.
        'run.budget_reached': pauseTransitions['run.budget_reached'],
        // A person gave it work (a retry, a skip, new tasks): the review in progress is dropped (its call
        // aborted) and written at the new end.
        'run.reopen': 'executing',
      },
      invoke: {
        src: 'finalReview',
        onDone: [
          {
            guard: 'allTasksDone',
            target: 'completed',
            actions: { type: 'storeFinalReview', params: ({ event }) => ({ review: event.output }) },
          },
          {
            target: 'failed',
            actions: { type: 'storeFinalReview', params: ({ event }) => ({ review: event.output }) },
          },
        ],
        onError: [
          {
            guard: 'allTasksDone',
            target: 'completed',
            actions: { type: 'storeFinalReview', params: ({ event }) => ({ error: event.error }) },
          },
          {
            target: 'failed',
            actions: { type: 'storeFinalReview', params: ({ event }) => ({ error: event.error }) },
          },
        ],
      },
    },
    completed: {
      entry: [
        { type: 'announce', params: { status: 'completed' as const } },
        { type: 'finish', params: ({ context }) => ({ error: context.error }) },
      ],
      on: { 'run.reopen': 'executing', 'run.rollback': startRollback },
    },
    failed: {
      entry: [
        { type: 'announce', params: { status: 'failed' as const } },
        { type: 'finish', params: ({ context }) => ({ error: context.error }) },
      ],
      on: { 'run.reopen': 'executing', 'run.rollback': startRollback },
    },
    cancelled: {
      entry: [
        { type: 'announce', params: { status: 'cancelled' as const } },
        'cancelWork',
        { type: 'finish', params: ({ context }) => ({ error: context.error }) },
      ],
      type: 'final',
    },
    closing: {
      invoke: { src: 'drain', onDone: 'closed', onError: 'closed' },
    },
    closed: { type: 'final' },
  },
});

export type RunSnapshot = SnapshotFrom<typeof runMachine>;

/** Where a run read back from its journal is: a status, a pause with its reason, or a rollback begun. */
export type RunPlace =
  | { status: Exclude<RunStatus, 'paused' | 'reviewing' | 'damaged'> }
  | { paused: PauseReason; message?: string; until?: number; model?: string }
  | { rollingBack: RollbackRequest };

/**
 * The persisted snapshot of a run at `place`, for a run whose state is read back from its journal. A
 * pause or a rollback is entered from executing by the event that leads there, so the snapshot holds what
 * that state invokes (a quota's wait, a storage probe, the rollback), which a restore then runs; a
 * snapshot merely resolved to the state would hold none and wait forever. Nothing runs here: the step is
 * XState's pure `transition`.
 */
export function persistedRunIn(place: RunPlace, context: RunContext): unknown {
  const executing = runMachine.resolveState({
    value: 'executing',
    context: { ...context, pause: undefined, rollback: undefined },
  });
  if ('status' in place) {
    if (place.status === 'executing') return runMachine.getPersistedSnapshot(executing);
    const value = place.status === 'awaiting_approval' ? 'awaitingApproval' : place.status;
    return runMachine.getPersistedSnapshot(runMachine.resolveState({ value, context }));
  }
  // Entered only from rollingBack, and invokes nothing: resolved to, with what its pause says.
  if ('paused' in place && place.paused === 'rollback') {
    const pause = place.message !== undefined ? { message: place.message } : undefined;
    const value = { paused: 'rollback' };
    return runMachine.getPersistedSnapshot(
      runMachine.resolveState({ value, context: { ...context, pause } }),
    );
  }
  const [entered] = transition(runMachine, executing, enteringEvent(place));
  return runMachine.getPersistedSnapshot(entered);
}

function enteringEvent(place: Exclude<RunPlace, { status: unknown }>): RunEvent {
  if ('rollingBack' in place) return { type: 'run.rollback', ...place.rollingBack };
  const message = place.message ?? '';
  switch (place.paused) {
    case 'user':
      return { type: 'run.pause', ...(place.message !== undefined && { message }) };
    case 'budget':
      return { type: 'run.budget_reached', message };
    case 'provider':
      return { type: 'run.provider_refused', message };
    case 'quota':
      return {
        type: 'run.quota_wait',
        message,
        ...(place.until !== undefined && { until: place.until }),
        ...(place.model !== undefined && { model: place.model }),
      };
    case 'storage':
      return { type: 'run.storage_failed', message };
    case 'source':
      return { type: 'run.source_unavailable', message };
    case 'verify':
      return { type: 'run.verify_broken', message };
    case 'held':
      return { type: 'run.held', message };
    case 'backend':
      return { type: 'run.backend_lost', message };
    case 'rollback':
      throw new Error('a pause after a rollback is resolved to, not entered (persistedRunIn)');
  }
}

/** What a person is told the run is doing, from the state it is in. */
export function runStatusOf(snapshot: RunSnapshot): RunStatus {
  const value = snapshot.value;
  if (typeof value === 'object') return 'paused';
  switch (value) {
    case 'settling':
      return 'reviewing';
    case 'awaitingApproval':
      return 'awaiting_approval';
    case 'rollingBack':
      // Nothing is dispatched while the rollback works; the run is then paused for a person.
      return 'paused';
    case 'closing':
    case 'closed':
      // Never persisted, never shown: the daemon is going away.
      return 'executing';
    default:
      return value;
  }
}

/** What the pause says to a person: its message, or the checkpoint a rollback goes back to. */
export function pauseMessageOf(snapshot: RunSnapshot): string | undefined {
  if (snapshot.value === 'rollingBack')
    return rollingBackMessage(snapshot.context.rollback?.checkpointId ?? 'a checkpoint');
  return typeof snapshot.value === 'object' ? snapshot.context.pause?.message : undefined;
}

/** Why a paused run waits, from the pause it is in. */
export function pauseReasonOf(snapshot: RunSnapshot): PauseReason | undefined {
  const value = snapshot.value;
  if (typeof value === 'object' && 'paused' in value) return value.paused;
  if (value === 'rollingBack') return 'rollback';
  return undefined;
}
