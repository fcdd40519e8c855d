import type { Plan } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { assign, createActor, fromPromise, toPromise } from 'xstate';
import { ModelError } from '../model/model-error.js';
import { managerMachine, parsePlanText, type PlanRequestInput, type PlanResult } from './manager.machine.js';

const GOOD: Plan = {
  summary: 'Two steps.',
  tasks: [
    { id: 'a', title: 'A', description: '', dependencies: [], priority: 'medium' },
    { id: 'b', title: 'B', description: '', dependencies: ['a'], priority: 'medium' },
  ],
};
const CYCLE: Plan = {
  summary: 'Loops.',
  tasks: [
    { id: 'a', title: 'A', description: '', dependencies: ['b'], priority: 'medium' },
    { id: 'b', title: 'B', description: '', dependencies: ['a'], priority: 'medium' },
  ],
};

/** Runs the manager with a scripted model: each plan request takes the next answer (text or error). */
async function plan(
  answers: (string | Error)[],
  options: { imported?: Plan['tasks']; maxRetries?: number } = {},
): Promise<{
  result: PlanResult;
  requests: PlanRequestInput[];
  rejected: { attempt: number; error: string }[];
}> {
  const requests: PlanRequestInput[] = [];
  const rejected: { attempt: number; error: string }[] = [];
  const machine = managerMachine.provide({
    actors: {
      requestPlan: fromPromise(({ input }: { input: PlanRequestInput }) => {
        requests.push(input);
        const answer = answers[requests.length - 1] ?? new Error('no more scripted answers');
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      }),
      waitUntil: fromPromise(() => Promise.resolve()),
    },
    actions: {
      announcePlanning: () => {},
      announceRejected: (_, params) => rejected.push(params),
      scheduleBackoff: assign({ backoffUntil: 0 }),
    },
  });
  const actor = createActor(machine, {
    input: {
      goal: 'ship it',
      imported: options.imported,
      maxRepairs: 2,
      maxRetries: options.maxRetries ?? 2,
    },
  });
  actor.start();
  const result = await toPromise(actor);
  return { result, requests, rejected };
}

describe('manager machine', () => {
  it('accepts a valid plan at the first try', async () => {
    const { result, requests } = await plan([JSON.stringify(GOOD)]);
    expect(result).toEqual({ ok: true, plan: GOOD });
    expect(requests).toEqual([{ goal: 'ship it', attempt: 1, feedback: undefined }]);
  });

  it('sends an invalid plan back with the validation error, then takes the repaired one', async () => {
    const { result, requests, rejected } = await plan([
      'not json at all',
      JSON.stringify(CYCLE),
      JSON.stringify(GOOD),
    ]);
    expect(result.ok).toBe(true);
    expect(requests).toHaveLength(3);
    expect(requests[1]!.feedback).toMatch(/not valid JSON/);
    expect(requests[2]!.feedback).toMatch(/dependency cycle (a -> b -> a|b -> a -> b)/);
    expect(rejected.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('sends a bad plan back at most twice, then fails with the last validation error', async () => {
    const { result, requests, rejected } = await plan([
      JSON.stringify(CYCLE),
      JSON.stringify({ summary: 'no tasks key' }),
      JSON.stringify(CYCLE),
      JSON.stringify(GOOD),
    ]);
    expect(requests).toHaveLength(3);
    expect(requests[2]!.feedback).toMatch(/does not match the schema: tasks/);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/the plan: dependency cycle/);
    expect(rejected).toHaveLength(3);
  });

  it('retries a transient model failure without spending a repair', async () => {
    const { result, requests } = await plan([
      new ModelError('transient', 'overloaded'),
      JSON.stringify(CYCLE),
      new ModelError('transient', 'overloaded'),
      JSON.stringify(GOOD),
    ]);
    expect(result.ok).toBe(true);
    expect(requests).toHaveLength(4);
  });

  it('fails planning on a permanent model error, naming it', async () => {
    const { result, requests } = await plan([new ModelError('permanent', 'invalid x-api-key')]);
    expect(requests).toHaveLength(1);
    expect(result).toEqual({ ok: false, error: 'planning failed: invalid x-api-key' });
  });

  it('skips planning for an imported task list', async () => {
    const imported = GOOD.tasks;
    const { result, requests } = await plan([], { imported });
    expect(requests).toEqual([]);
    expect(result.ok && result.plan.tasks).toEqual(imported);
  });

  it('parsePlanText names an unknown dependency', () => {
    const bad = { ...GOOD, tasks: [{ ...GOOD.tasks[1]!, dependencies: ['zz'] }] };
    expect(parsePlanText(JSON.stringify(bad))).toEqual({
      ok: false,
      error: 'the plan: task "b" depends on "zz", which is not a task in it',
    });
  });
});
