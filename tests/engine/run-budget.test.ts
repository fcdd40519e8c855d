import {
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  type TestEngine,
} from '@orc/test-support';
import { formatCost, ZERO_USAGE, type OrcEvent } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const tasks = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i + 1}`, title: `Task ${i + 1}` }));

/** An attempt costs $1 (100,000 output tokens of Sonnet), its review $1 (50,000 of Opus). */
const dollarCalls = (latencyMs: (purpose: string) => number) =>
  createScriptedProvider({
    latencyMs: (call) => latencyMs(call.purpose),
    usage: (call) => ({
      ...ZERO_USAGE,
      outputTokens: call.purpose === 'work' ? 100_000 : call.purpose === 'review' ? 50_000 : 0,
    }),
  });

/** What the journal's events charged, in order, with the task each was for. */
function charges(events: OrcEvent[]): { index: number; taskId: string; costUsd: number }[] {
  return events.flatMap((event, index) => {
    if (event.type === 'task.worked') return [{ index, taskId: event.taskId, costUsd: event.costUsd }];
    if (event.type === 'task.reviewed' && event.charge)
      return [{ index, taskId: event.taskId, costUsd: event.charge.costUsd }];
    if (event.type === 'task.review_charged')
      return [{ index, taskId: event.taskId, costUsd: event.costUsd }];
    return [];
  });
}

describe('max_cost_usd', () => {
  it('counts the reviews under way and each new task’s review before it starts: the run stays within it', async () => {
    // Two workers: the first two tasks cost $4 in all. Counting only attempts, a third was started at $3
    // spent (one attempt of $1 more fits $5) and its review took the run to $6.
    const provider = dollarCalls(() => 10);
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2, max_cost_usd: 5 } } });
    const run = await engine.orchestrator.startRun({ tasks: tasks(6) });
    expect(await engine.orchestrator.waitForRun(run.id)).toMatchObject({ pauseReason: 'budget' });
    await eventually(
      async () => (await engine!.orchestrator.getRun(run.id)).busyWorkers === 0,
      'the work under way to end',
    );
    const view = await engine.orchestrator.getRun(run.id);
    expect(view.costUsd).toBeCloseTo(4, 6);
    expect(provider.callsFor('work')).toHaveLength(2);

    // What the pause says, in the inbox and `orc show`, is what the run spent once its work landed.
    // Not passed ($4 of $5): the third task's attempt and review did not fit, and the pause says so.
    const spent = `spent ${formatCost(view.costUsd)} of the $5.00 budget, and the next task (t3) needs about $2.00 for its attempt and review, which does not fit;`;
    await eventually(
      async () => (await engine!.orchestrator.getRun(run.id)).pauseMessage?.includes(spent) === true,
      'the pause to tell the spend',
    );
    const item = engine.orchestrator.listInbox({ runId: run.id }).items.find((i) => i.type === 'budget');
    expect(item?.question).toContain(spent);
    expect(item?.question).not.toContain('under way');
    // The journal tells it too (a follower's screen shows the last pause's message).
    const paused = (await readJournal(engine.home, run.id)).flatMap((e) =>
      e.type === 'run.paused' ? [e] : [],
    );
    expect(paused.at(-1)?.reason).toBe('budget');
    expect(paused.at(-1)?.message).toContain(spent);
    expect(paused.at(-1)?.message).toBe(view.pauseMessage);
    // The pause's own event names what did not fit, not a budget passed.
    const events = await readJournal(engine.home, run.id);
    expect(events.some((e) => e.type === 'run.budget_exceeded')).toBe(false);
    expect(events.find((e) => e.type === 'run.budget_would_exceed')).toMatchObject({
      limitUsd: 5,
      neededUsd: 2,
      nextTask: 't3',
    });
  });

  it('never spends past it by more than the work already under way when it was reached', async () => {
    // Three workers, and no call has come back when the first three start: nothing foresees that a call
    // costs $1, so the three go out. Once one lands, what is under way counts, and nothing more starts.
    const limit = 4.5;
    const provider = dollarCalls((purpose) => (purpose === 'review' ? 30 : 5));
    engine = await openTestEngine({
      provider,
      config: { execution: { max_workers: 3, max_cost_usd: limit } },
    });
    const run = await engine.orchestrator.startRun({ tasks: tasks(9) });
    expect(await engine.orchestrator.waitForRun(run.id)).toMatchObject({ pauseReason: 'budget' });
    await eventually(
      async () => (await engine!.orchestrator.getRun(run.id)).busyWorkers === 0,
      'the work under way to end',
    );
    const events = await readJournal(engine.home, run.id);
    const reached = events.findIndex(
      (e) => e.type === 'run.budget_exceeded' || e.type === 'run.budget_would_exceed',
    );
    const underWay = new Set(
      events.slice(0, reached).flatMap((e) => (e.type === 'task.assigned' ? [e.taskId] : [])),
    );
    const all = charges(events);
    const before = all.filter((c) => c.index < reached).reduce((sum, c) => sum + c.costUsd, 0);
    // Within it when it was reached, and every charge after it was for a task already under way.
    expect(before).toBeLessThanOrEqual(limit + 1e-9);
    expect(all.filter((c) => c.index > reached).every((c) => underWay.has(c.taskId))).toBe(true);
    expect(events.slice(reached).some((e) => e.type === 'task.assigned')).toBe(false);
    // The three under way finish: $6, what the run's journal and its totals both tell.
    const view = await engine.orchestrator.getRun(run.id);
    expect(provider.callsFor('work')).toHaveLength(3);
    expect(view.costUsd).toBeCloseTo(6, 6);
    expect(all.reduce((sum, c) => sum + c.costUsd, 0)).toBeCloseTo(view.costUsd, 6);
  });

  it("waits for the work under way while a call's cost is a guess from its prompt (the trial's three tasks)", async () => {
    // Simulated: a task costs about $0.0015 (attempt and review). Guessed from their prompts before any
    // came back, the third did not fit, and the run paused with $0.0015 of $0.005 spent.
    engine = await openTestEngine({ config: { execution: { max_cost_usd: 0.005 } } });
    const three = tasks(3).map((task) => ({ ...task, description: `A short poem about ${task.title}` }));
    const run = await engine.orchestrator.startRun({ tasks: three });
    await engine.orchestrator.waitForRun(run.id);
    expect((await engine.orchestrator.getRun(run.id)).taskCounts['done']).toBe(3);
    // The tasks' attempts and reviews (the final review is foreseen on its own).
    const spent = charges(await readJournal(engine.home, run.id)).reduce((sum, c) => sum + c.costUsd, 0);
    expect(spent).toBeLessThanOrEqual(0.005);
  });

  it("hands Claude Code agents in parallel shares of the run's remainder, not each the whole of it", async () => {
    // Two agents at once under $5: each was handed $5 (maxBudgetUsd), so together they could spend $10.
    const provider = createScriptedProvider({
      name: 'claude-code',
      usage: (call) => ({
        ...ZERO_USAGE,
        outputTokens: call.purpose === 'work' ? 100_000 : call.purpose === 'review' ? 50_000 : 0,
      }),
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2, max_cost_usd: 5 } } });
    provider.hold();
    const run = await engine.orchestrator.startRun({ tasks: tasks(2) });
    await eventually(
      () => Promise.resolve(provider.callsFor('work').length === 2),
      'both attempts to be in flight',
    );
    const handed = provider.callsFor('work').map((call) => call.request.budgetUsd!);
    // Within what is left once the reviews are reserved, together; each a fair part of it.
    expect(handed.reduce((sum, usd) => sum + usd, 0)).toBeLessThanOrEqual(5);
    for (const usd of handed) expect(usd).toBeGreaterThan(2);
    provider.release();
    expect(await engine.orchestrator.waitForRun(run.id)).toMatchObject({ status: 'completed' });

    // One at a time, an agent may spend what the run has left less its review's reservation.
    const alone = createScriptedProvider({ name: 'claude-code' });
    await engine.close();
    engine = await openTestEngine({
      provider: alone,
      config: { execution: { max_workers: 1, max_cost_usd: 5 } },
    });
    const single = await engine.orchestrator.startRun({ tasks: tasks(1) });
    await engine.orchestrator.waitForRun(single.id);
    const [only] = alone.callsFor('work').map((call) => call.request.budgetUsd!);
    expect(only).toBeGreaterThan(4.99);
    expect(only).toBeLessThan(5);
  });

  it('waits for agents handed more than they spend rather than pause: what they leave comes back', async () => {
    // $1 an attempt and $0.50 a review: three tasks and the final review are $5.00. The two agents at
    // first hold $2.25 each; the third task fits what they are expected to cost, and starts once one lands.
    const provider = createScriptedProvider({
      name: 'claude-code',
      // t2's attempt is under way when t1 has landed and t3 asks to start.
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 't2' ? 300 : 5),
      usage: (call) => ({
        ...ZERO_USAGE,
        outputTokens: call.purpose === 'work' ? 100_000 : call.purpose === 'plan' ? 0 : 25_000,
      }),
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2, max_cost_usd: 5 } } });
    const run = await engine.orchestrator.startRun({ tasks: tasks(3) });
    const done = await engine.orchestrator.waitForRun(run.id);
    expect(done).toMatchObject({ status: 'completed' });
    expect(done.costUsd).toBeLessThanOrEqual(5 + 1e-9);
    const events = await readJournal(engine.home, run.id);
    expect(events.some((e) => e.type === 'run.paused')).toBe(false);
  });
});
