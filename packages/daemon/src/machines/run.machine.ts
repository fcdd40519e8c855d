import type { FinalReview, TaskSpec } from '@orc/shared';
import { assign, fromPromise, setup } from 'xstate';
import { managerMachine, type PlanResult } from './manager.machine.js';

export type RunEvent =
  | { type: 'run.pause' }
  | { type: 'run.resume' }
  | { type: 'run.cancel' }
  /** Every task is settled (done, failed, skipped, blocked…) and nothing is in flight. */
  | { type: 'run.settled' }
  /** A task was retried or a rollback re-queued work: a finished run executes again (paused first). */
  | { type: 'run.reopen' };

export interface RunInput {
  runId: string;
  goal: string;
  imported: TaskSpec[] | undefined;
  maxRepairs: number;
  maxRetries: number;
}

export interface RunContext {
  runId: string;
  goal: string;
  imported: TaskSpec[] | undefined;
  maxRepairs: number;
  maxRetries: number;
  error: string | undefined;
}

/**
 * One run (the seed's ClaudeOrchestrator): analyzing → executing → reviewing → completed | failed |
 * cancelled, with paused reachable from executing. The tasks and workers belong to the Run object that
 * drives this machine; the machine holds the run's phase, which is what is persisted and restored.
 * Restoring in `analyzing` or `reviewing` re-runs the manager's call, which is safe to repeat.
 */
export const runMachine = setup({
  types: {
    context: {} as RunContext,
    input: {} as RunInput,
    events: {} as RunEvent,
  },
  actors: {
    manager: managerMachine,
    finalReview: fromPromise<FinalReview, { runId: string }>(() =>
      Promise.reject(new Error('finalReview not provided')),
    ),
  },
  actions: {
    /** Provided by the Run: turns the plan into task records. */
    applyPlan: (_, _params: { result: PlanResult }) => {},
    storeFinalReview: (_, _params: { review: FinalReview | undefined; error?: string }) => {},
  },
  guards: {
    planOk: (_, params: { result: PlanResult }) => params.result.ok,
    /** Provided by the Run: every task is done or skipped. */
    allTasksDone: () => true,
  },
}).createMachine({
  id: 'run',
  context: ({ input }) => ({ ...input, error: undefined }),
  initial: 'analyzing',
  on: { 'run.cancel': '.cancelled' },
  states: {
    analyzing: {
      invoke: {
        id: 'manager',
        src: 'manager',
        input: ({ context }) => ({
          goal: context.goal,
          imported: context.imported,
          maxRepairs: context.maxRepairs,
          maxRetries: context.maxRetries,
        }),
        onDone: [
          {
            guard: { type: 'planOk', params: ({ event }) => ({ result: event.output }) },
            target: 'executing',
            actions: [
              { type: 'applyPlan', params: ({ event }) => ({ result: event.output }) },
              // The tasks now live in the run's records; the persisted snapshot need not carry them twice.
              assign({ imported: undefined }),
            ],
          },
          {
            target: 'failed',
            actions: assign({ error: ({ event }) => (event.output.ok ? undefined : event.output.error) }),
          },
        ],
      },
    },
    executing: {
      on: { 'run.pause': 'paused', 'run.settled': 'reviewing' },
    },
    paused: {
      on: { 'run.resume': 'executing' },
    },
    reviewing: {
      invoke: {
        src: 'finalReview',
        input: ({ context }) => ({ runId: context.runId }),
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
            actions: {
              type: 'storeFinalReview',
              params: ({ event }) => ({
                review: undefined,
                error: String((event.error as Error)?.message ?? event.error),
              }),
            },
          },
          {
            target: 'failed',
            actions: {
              type: 'storeFinalReview',
              params: ({ event }) => ({
                review: undefined,
                error: String((event.error as Error)?.message ?? event.error),
              }),
            },
          },
        ],
      },
    },
    completed: { on: { 'run.reopen': 'paused' } },
    failed: { on: { 'run.reopen': 'paused' } },
    cancelled: { type: 'final' },
  },
});
