import { createScriptedProvider, openTestEngine, readJournal, type TestEngine } from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe("a run's budget and its final review", () => {
  it('pauses at the budget before a final review that would pass it, and makes the review on resume', async () => {
    const provider = createScriptedProvider({
      // A task's attempt $1 (100k output tokens of the worker at $10 a million), each review $0.50 (25k of
      // the manager's at $20 a million), the final review as much.
      usage: (call) => ({
        inputTokens: 0,
        outputTokens: call.purpose === 'work' ? 100_000 : 25_000,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2, max_cost_usd: 3.2 } } });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'a', title: 'Task a' },
        { id: 'b', title: 'Task b' },
      ],
    });
    // Both tasks done at $3.00; the final review, at the $0.50 a review costs, would end it at $3.50.
    const paused = await orchestrator.waitForRun(run.id);
    expect(paused).toMatchObject({ status: 'paused', pauseReason: 'budget' });
    expect(paused.costUsd).toBeCloseTo(3, 6);
    expect(provider.callsFor('final-review')).toHaveLength(0);
    expect((await orchestrator.getRun(run.id)).pauseMessage).toBe(
      `spent $3.00 of the $3.20 budget, and the final review needs about $0.50, which does not fit; orc resume ${run.id} --budget <usd> goes on within a new one, without --budget past it`,
    );

    // Its forecast is what it will have cost once the final review is paid, not what is spent.
    expect((await orchestrator.getRun(run.id)).forecast?.costUsd).toBeCloseTo(3.5, 6);
    expect(orchestrator.listRuns().find((r) => r.id === run.id)?.forecast?.costUsd).toBeCloseTo(3.5, 6);
    // The journal's pause says the final review did not fit, not that the budget was passed.
    const events = await readJournal(engine.home, run.id);
    expect(events.some((e) => e.type === 'run.budget_exceeded')).toBe(false);
    expect(events.find((e) => e.type === 'run.budget_would_exceed')).toMatchObject({
      costUsd: expect.closeTo(3, 6) as number,
      limitUsd: 3.2,
      neededUsd: expect.closeTo(0.5, 6) as number,
    });

    await orchestrator.resumeRun(run.id, { maxCostUsd: 4 });
    const done = await orchestrator.waitForRun(run.id);
    expect(done.status).toBe('completed');
    expect(provider.callsFor('final-review')).toHaveLength(1);
    expect(done.costUsd).toBeCloseTo(3.5, 6);
  });
});
