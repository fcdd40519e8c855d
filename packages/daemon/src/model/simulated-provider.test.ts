import { FinalReview, Plan, TaskReview, assertValidTaskGraph } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock.js';
import { ManualClock } from '@orc/test-support';
import { CallCancelledError } from './model-error.js';
import { planPrompt } from './prompts.js';
import type { ModelRequest } from './provider.js';
import { SIMULATED_LABEL, createSimulatedProvider, finalReviewOf } from './simulated-provider.js';

/** A clock whose sleeps resolve at once and are recorded: latency without waiting. */
function instantClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    now: () => 0,
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  };
}

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    purpose: 'work',
    model: 'claude-sonnet-5-5',
    system: 'You are a worker.\n\nThe goal of this run:\nbrew tea',
    prompt: '# Task t3: Heat the water\nBring it to 90 °C.',
    maxTokens: 1000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

describe('simulated provider', () => {
  it('answers the same request the same way, with the same latency, for a seed', async () => {
    const one = instantClock();
    const two = instantClock();
    const a = createSimulatedProvider({ seed: 42, latencyMs: { min: 100, max: 900 }, clock: one });
    const b = createSimulatedProvider({ seed: 42, latencyMs: { min: 100, max: 900 }, clock: two });
    const first = await a.complete(request());
    await a.complete(request({ prompt: '# Task t4: Something else\n' })); // other calls do not shift it
    const again = await b.complete(request());
    expect(again).toEqual(first);
    expect(two.slept[0]).toBe(one.slept[0]);
    expect(one.slept[0]).toBeGreaterThanOrEqual(100);
    expect(one.slept[0]).toBeLessThanOrEqual(900);
  });

  it('varies with the seed', async () => {
    const latencies = new Set<number>();
    for (const seed of [1, 2, 3, 4]) {
      const clock = instantClock();
      await createSimulatedProvider({ seed, latencyMs: { min: 0, max: 1000 }, clock }).complete(request());
      latencies.add(clock.slept[0]!);
    }
    expect(latencies.size).toBeGreaterThan(1);
  });

  it('labels every answer as simulated and reports usage', async () => {
    const provider = createSimulatedProvider({
      seed: 1,
      latencyMs: { min: 0, max: 0 },
      clock: instantClock(),
    });
    const streamed: string[] = [];
    const work = await provider.complete(request({ onText: (t) => streamed.push(t) }));
    expect(provider.name).toBe('simulated');
    expect(work.text.startsWith(SIMULATED_LABEL)).toBe(true);
    // The first line, all a log line or the demo shows of it, says which task and is not cut mid-word.
    expect(work.text.split('\n')[0]).toMatch(
      /^\[simulated\] (Done|Completed|Finished): Heat the water \(task t3\)\.$/,
    );
    expect(streamed.join('')).toBe(work.text);
    expect(work.usage.outputTokens).toBeGreaterThan(0);

    const review = TaskReview.parse(
      JSON.parse((await provider.complete(request({ purpose: 'review' }))).text),
    );
    expect(review).toMatchObject({ verdict: 'accept' });
    expect(review.feedback).toContain(SIMULATED_LABEL);

    const final = FinalReview.parse(
      JSON.parse((await provider.complete(request({ purpose: 'final-review' }))).text),
    );
    expect(final.summary).toContain(SIMULATED_LABEL);
  });

  it('judges the run by its tasks: success when all are done, partial or failure naming the rest', () => {
    const done = finalReviewOf('Tasks:\n- t1 [done] Analyse\n- t2 [done] Write\n\nJudge the whole run');
    expect(done.verdict).toBe('success');
    const partial = finalReviewOf(
      'Tasks:\n- t1 [done] Analyse\n- t2 [failed] Write (error: over budget)\n- t3 [pending] Integrate',
    );
    expect(partial).toMatchObject({
      verdict: 'partial',
      summary: `${SIMULATED_LABEL} 1 of 3 tasks were completed; not done: t2 (failed), t3 (pending). This review was simulated: no model judged the work.`,
    });
    expect(finalReviewOf('Tasks:\n- t1 [failed] Analyse\n- t2 [skipped] Write').verdict).toBe('failure');
  });

  it('plans a goal into a valid labelled graph: analysis, the parts in parallel, integration', async () => {
    const provider = createSimulatedProvider({
      seed: 1,
      latencyMs: { min: 0, max: 0 },
      clock: instantClock(),
    });
    const { system, prompt } = planPrompt('choose the leaves, heat the water and serve it', undefined);
    const plan = Plan.parse(
      JSON.parse((await provider.complete(request({ purpose: 'plan', system, prompt }))).text),
    );
    expect(plan.summary).toContain(SIMULATED_LABEL);
    expect(plan.tasks.map((t) => t.title)).toEqual([
      'Analyse the goal',
      'Choose the leaves',
      'Heat the water',
      'Serve it',
      'Integrate and check the results',
    ]);
    expect(plan.tasks.at(-1)!.dependencies).toEqual(['t2', 't3', 't4']);
    expect(() => assertValidTaskGraph(plan.tasks, 'the plan', 'PLAN_INVALID')).not.toThrow();
  });

  it('stops with CallCancelledError when the signal aborts', async () => {
    const provider = createSimulatedProvider({
      seed: 1,
      latencyMs: { min: 5000, max: 5000 },
      clock: new ManualClock(0),
    });
    const controller = new AbortController();
    const call = provider.complete(request({ signal: controller.signal }));
    controller.abort(new Error('cancelled by the user'));
    await expect(call).rejects.toBeInstanceOf(CallCancelledError);
    await expect(provider.complete(request({ signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(
      CallCancelledError,
    );
  });
});
