import { applyEvents, ZERO_USAGE, type RunView } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createScriptedProvider,
  ManualClock,
  openTestEngine,
  readJournal,
  type TestEngine,
} from '@orc/test-support';
import { RunSpendTeller } from './run-spend.js';

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

describe('RunSpendTeller', () => {
  it('tells the totals with every change, and the forecast with them at most once a second', () => {
    const clock = new ManualClock(0);
    const spend = { usage: { ...ZERO_USAGE }, costUsd: 0 };
    const teller = new RunSpendTeller(spend, clock);
    const forecast = { costUsd: 9, finishAt: '2026-11-30T00:00:00.000Z' };
    let asked = 0;
    const tell = () =>
      teller.tell({ type: 'run.resumed' }, () => {
        asked++;
        return forecast;
      }).spent;
    const charge = (usd: number) => {
      spend.costUsd += usd;
      spend.usage.inputTokens += 10;
    };

    expect(tell()).toBeUndefined();
    charge(1);
    expect(tell()).toEqual({ usage: spend.usage, costUsd: 1, forecast });
    charge(1);
    clock.advance(999);
    // The totals go at once; the forecast, told 999 ms ago, is not worked out again.
    expect(tell()).toEqual({ usage: spend.usage, costUsd: 2 });
    expect(asked).toBe(1);
    charge(1);
    clock.advance(1);
    expect(tell()).toEqual({ usage: spend.usage, costUsd: 3, forecast });
    expect(asked).toBe(2);
    // A change whose forecast waited goes with the run's next status, however soon.
    charge(1);
    expect(tell()).toEqual({ usage: spend.usage, costUsd: 4 });
    expect(teller.tell({ type: 'run.paused', reason: 'budget' }, () => forecast).spent).toEqual({
      usage: spend.usage,
      costUsd: 4,
      forecast,
    });
    // Told: the next status carries nothing.
    expect(teller.tell({ type: 'run.status', status: 'paused' }, () => forecast).spent).toBeUndefined();
  });
});
