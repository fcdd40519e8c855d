import { OrcError, ZERO_USAGE, type GoalPlan, type ResolvedConfig } from '@orc/shared';
import { assign, createActor, fromPromise, waitFor } from 'xstate';
import { managerMachine } from '../actors/manager.machine.js';
import { backoffDelay } from '../model/model-error.js';
import { ManagerCalls } from '../run/manager-calls.js';
import { RunBudget, type SpendRecord } from '../run/run-budget.js';
import type { RunDeps } from '../run/run.js';
import { modelsOf } from './run-preview.js';

/** Plans a run asks for before it gives up; the same bound as a run's own planning. */
const MAX_REPAIRS = 2;

/**
 * `orc plan`: the manager plans `goal` exactly as a run's planning would (the same prompt, schema and
 * graph checks, repairs and retries), and nothing runs. The plan comes back for the client to write.
 */
export async function planGoal(
  goal: string,
  config: ResolvedConfig,
  deps: Pick<RunDeps, 'providers' | 'governor' | 'clock' | 'random' | 'retryBaseMs'>,
): Promise<GoalPlan> {
  const spend: SpendRecord = { usage: { ...ZERO_USAGE }, costUsd: 0 };
  const budget = new RunBudget(spend, undefined, (model) => config.models.prices[model]);
  const manager = new ManagerCalls({
    // Admitted by the daemon's quota governor like any run's calls; a plan has no run to pause.
    runId: 'plan',
    provider: deps.providers.manager,
    governor: deps.governor,
    onQuotaWait: () => undefined,
    clock: deps.clock,
    budget,
    config: () => config,
    context: () => `Goal: ${goal}`,
  });
  const { clock, random, retryBaseMs } = deps;
  let repairs = 0;
  const actor = createActor(
    managerMachine.provide({
      actors: {
        requestPlan: fromPromise(({ input, signal }) => manager.plan(goal, input.feedback, signal)),
        waitUntil: fromPromise<void, { until: number }>(({ input, signal }) =>
          clock.sleep(Math.max(0, input.until - clock.now()), signal),
        ),
      },
      actions: {
        announcePlanning: () => undefined,
        announceRejected: () => void repairs++,
        scheduleBackoff: assign({
          backoffUntil: ({ context }) =>
            clock.now() + backoffDelay(context.retries, context.failure?.retryAfterMs, random, retryBaseMs),
        }),
      },
    }),
    {
      input: { goal, imported: undefined, maxRepairs: MAX_REPAIRS, maxRetries: config.execution.max_retries },
    },
  );
  actor.start();
  const done = await waitFor(actor, (snapshot) => snapshot.status === 'done', { timeout: Infinity });
  const result = done.output!;
  if (!result.ok) throw new OrcError('PLAN_INVALID', `the manager could not plan the goal: ${result.error}`);
  return {
    goal,
    summary: result.plan.summary,
    tasks: result.plan.tasks,
    models: modelsOf(config),
    usage: spend.usage,
    costUsd: spend.costUsd,
    // The last rejection was of a plan that passed none: only repairs before a good plan count.
    repairs: Math.min(repairs, MAX_REPAIRS),
  };
}
