import { applyEvents, ZERO_USAGE, type RunView } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { createScriptedProvider, openTestEngine, readJournal, type TestEngine } from '@orc/test-support';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

describe('the run spend events carry', () => {
  it('lets a client that folds the events reach the cost and tokens of every call, reviews included', async () => {
    const provider = createScriptedProvider({
      // The first review of a sends it back: a reworked attempt costs too, and never completes.
      review: (call) =>
        call.taskId === 'a' && call.n === 1
          ? { verdict: 'rework', feedback: 'More detail.' }
          : { verdict: 'accept', feedback: 'Good.' },
      usage: (call) => ({
        inputTokens: call.purpose === 'work' ? 2_000 : 5_000,
        outputTokens: call.purpose === 'work' ? 300 : 700,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    });
    engine = await openTestEngine({ provider });
    const started = await engine.orchestrator.startRun({ goal: 'do two things' });
    await engine.orchestrator.waitForRun(started.id);
    const final = await engine.orchestrator.getRun(started.id);
    expect(final.status).toBe('completed');
    // plan + 3 attempts + 3 reviews + final review
    expect(provider.calls).toHaveLength(8);

    const empty: RunView = {
      ...final,
      tasks: [],
      taskCounts: {},
      taskTotal: 0,
      usage: ZERO_USAGE,
      costUsd: 0,
      lastEventId: 0,
    };
    const events = await readJournal(engine.home, started.id);
    const folded = applyEvents(empty, events);
    expect(folded.costUsd).toBeCloseTo(final.costUsd, 10);
    expect(folded.usage).toEqual(final.usage);
    expect(final.usage.inputTokens).toBe(1 * 5_000 + 3 * 2_000 + 3 * 5_000 + 5_000);

    // Live, the total counts the plan, an attempt and its review when the first verdict arrives, before
    // any task.completed (which alone used to feed a client's total).
    const reviewed = events.findIndex((e) => e.type === 'task.reviewed');
    expect(events.slice(0, reviewed).some((e) => e.type === 'task.completed')).toBe(false);
    const live = applyEvents(empty, events.slice(0, reviewed + 1));
    expect(live.usage.inputTokens).toBeGreaterThanOrEqual(5_000 + 2_000 + 5_000);
    expect(live.costUsd).toBeGreaterThan(0);
  });
});
