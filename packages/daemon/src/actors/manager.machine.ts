import {
  Plan,
  type TaskSpec,
  assertValidTaskGraph,
  formatCount,
  isOrcError,
  withoutEmptyTouches,
} from '@orc/shared';
import { assign, fromPromise, setup } from 'xstate';
import { describeCallFailure, type CallFailure } from '../model/model-error.js';
import { notProvided, notProvidedActor } from './not-provided.js';

export interface ManagerInput {
  goal: string;
  /** Tasks given by the user (a task file, Task Master): the manager does not re-plan them. */
  imported: TaskSpec[] | undefined;
  maxRepairs: number;
  maxRetries: number;
  /** What a person asked to change in the previous plan (the run waited for approval). */
  feedback?: string | undefined;
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; error: string };

export interface PlanRequestInput {
  goal: string;
  attempt: number;
  /** Why the previous plan was refused; the model repairs it. */
  feedback: string | undefined;
}

export interface ManagerContext {
  goal: string;
  imported: TaskSpec[] | undefined;
  maxRepairs: number;
  maxRetries: number;
  attempt: number;
  repairs: number;
  retries: number;
  feedback: string | undefined;
  text: string;
  validation: PlanResult | undefined;
  failure: CallFailure | undefined;
  backoffUntil: number;
}

/** Parses and checks a plan the model wrote: JSON, the Plan schema, then the dependency graph. */
export function parsePlanText(text: string): PlanResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `the plan is not valid JSON (${(error as Error).message})` };
  }
  const parsed = Plan.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return {
      ok: false,
      error: `the plan does not match the schema: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    };
  }
  parsed.data.tasks = parsed.data.tasks.map(withoutEmptyTouches);
  try {
    assertValidTaskGraph(parsed.data.tasks, 'the plan', 'PLAN_INVALID');
  } catch (error) {
    if (isOrcError(error)) return { ok: false, error: error.message };
    throw error;
  }
  return { ok: true, plan: parsed.data };
}

/**
 * The manager's planning: ask the model for a plan through structured output, check it, and send an
 * invalid plan or a dependency cycle back with the error, at most `maxRepairs` times. Transient errors
 * back off and retry. Reviews of single tasks run in the workers' `reviewing` state, on the manager's
 * model, because many tasks are reviewed at once; the final review is the run's `reviewing` state.
 */
export const managerMachine = setup({
  types: {
    context: {} as ManagerContext,
    input: {} as ManagerInput,
    output: {} as PlanResult,
  },
  actors: {
    requestPlan: fromPromise<string, PlanRequestInput>(notProvidedActor('actor requestPlan')),
    waitUntil: fromPromise<void, { until: number }>(notProvidedActor('actor waitUntil')),
  },
  actions: {
    /** Provided by the run: tells the user what the manager is doing. */
    announcePlanning: notProvided<{ attempt: number }>('action announcePlanning'),
    announceRejected: notProvided<{ attempt: number; error: string }>('action announceRejected'),
    /** Provided by the run: sets `backoffUntil` from its clock and its random jitter. */
    scheduleBackoff: notProvided('action scheduleBackoff'),
  },
  guards: {
    hasImported: ({ context }) => context.imported !== undefined,
    planValid: ({ context }) => context.validation?.ok === true,
    canRepair: ({ context }) => context.repairs < context.maxRepairs,
    canRetry: ({ context }) =>
      context.failure?.category !== 'permanent' && context.retries < context.maxRetries,
  },
}).createMachine({
  id: 'manager',
  context: ({ input }) => ({
    ...input,
    attempt: 0,
    repairs: 0,
    retries: 0,
    feedback: input.feedback,
    text: '',
    validation: undefined,
    failure: undefined,
    backoffUntil: 0,
  }),
  initial: 'start',
  states: {
    start: {
      always: [
        {
          guard: 'hasImported',
          target: 'planned',
          actions: assign({
            validation: ({ context }) => ({
              ok: true as const,
              plan: {
                summary: `${formatCount(context.imported!.length)} imported task${context.imported!.length === 1 ? '' : 's'}, run as given.`,
                tasks: context.imported!.map((t) => ({ ...t, description: t.description })),
              },
            }),
          }),
        },
        { target: 'planning' },
      ],
    },
    planning: {
      entry: [
        assign({ attempt: ({ context }) => context.attempt + 1 }),
        { type: 'announcePlanning', params: ({ context }) => ({ attempt: context.attempt }) },
      ],
      invoke: {
        src: 'requestPlan',
        input: ({ context }) => ({
          goal: context.goal,
          attempt: context.attempt,
          feedback: context.feedback,
        }),
        onDone: { target: 'validating', actions: assign({ text: ({ event }) => event.output }) },
        onError: {
          target: 'failing',
          actions: assign({ failure: ({ event }) => describeCallFailure(event.error) }),
        },
      },
    },
    validating: {
      entry: assign({ validation: ({ context }) => parsePlanText(context.text) }),
      always: [
        { guard: 'planValid', target: 'planned' },
        {
          guard: 'canRepair',
          target: 'planning',
          actions: [
            {
              type: 'announceRejected',
              params: ({ context }) => ({ attempt: context.attempt, error: errorOf(context) }),
            },
            assign({
              repairs: ({ context }) => context.repairs + 1,
              feedback: ({ context }) => errorOf(context),
            }),
          ],
        },
        {
          target: 'failed',
          actions: {
            type: 'announceRejected',
            params: ({ context }) => ({ attempt: context.attempt, error: errorOf(context) }),
          },
        },
      ],
    },
    failing: {
      always: [
        {
          guard: 'canRetry',
          target: 'backoff',
          actions: ['scheduleBackoff', assign({ retries: ({ context }) => context.retries + 1 })],
        },
        {
          target: 'failed',
          actions: assign({
            validation: ({ context }) => ({
              ok: false as const,
              error: `planning failed: ${context.failure!.message}`,
            }),
          }),
        },
      ],
    },
    backoff: {
      invoke: {
        src: 'waitUntil',
        input: ({ context }) => ({ until: context.backoffUntil }),
        onDone: 'planning',
      },
    },
    planned: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => context.validation ?? { ok: false, error: 'planning ended without a plan' },
});

function errorOf(context: ManagerContext): string {
  return context.validation && !context.validation.ok ? context.validation.error : 'invalid plan';
}
