import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrcEvent, TaskReview, TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  type TestEngine,
} from '@orc/test-support';
import { ModelError } from '../model/model-error.js';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const independent = (n: number): TaskSpecInput[] =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i + 1}`, title: `Task ${i + 1}` }));

const ofType = <T extends OrcEvent['type']>(events: OrcEvent[], type: T) =>
  events.filter((e): e is Extract<OrcEvent, { type: T }> => e.type === type);

describe('pause, resume and cancel', () => {
  it('pause stops new dispatch and lets in-flight work finish; resume goes on to the end', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2 } } });
    const { orchestrator } = engine;
    provider.hold();
    const run = await orchestrator.startRun({ tasks: independent(6) });
    await provider.whenInFlight(2);
    const paused = await orchestrator.pauseRun(run.id);
    expect(paused).toMatchObject({ status: 'paused', pauseReason: 'user' });
    provider.release();
    // The two calls in flight finish, are reviewed and complete while the run stays paused.
    await eventually(
      async () => (await orchestrator.getRun(run.id)).taskCounts['done'] === 2,
      'the in-flight tasks to finish',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(provider.callsFor('work')).toHaveLength(2);
    expect(await orchestrator.getRun(run.id)).toMatchObject({ status: 'paused', busyWorkers: 0 });

    expect((await orchestrator.resumeRun(run.id)).status).toBe('executing');
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work')).toHaveLength(6);
    expect(provider.maxInFlight).toBeLessThanOrEqual(2);

    const events = await readJournal(engine.home, run.id);
    const pausedAt = ofType(events, 'run.paused')[0]!.id;
    const resumedAt = ofType(events, 'run.resumed')[0]!.id;
    const assignedWhilePaused = ofType(events, 'task.assigned').filter(
      (e) => e.id > pausedAt && e.id < resumedAt,
    );
    expect(assignedWhilePaused).toEqual([]);
    const completedWhilePaused = ofType(events, 'task.completed').filter(
      (e) => e.id > pausedAt && e.id < resumedAt,
    );
    expect(completedWhilePaused).toHaveLength(2);
  });

  it('pausing a finished run or resuming a running one is refused or a no-op', async () => {
    engine = await openTestEngine({ provider: createScriptedProvider() });
    const run = await engine.orchestrator.startRun({ tasks: independent(1) });
    await engine.orchestrator.waitForRun(run.id);
    await expect(engine.orchestrator.pauseRun(run.id)).rejects.toThrow(
      /is completed; only an executing run can be paused/,
    );
    await expect(engine.orchestrator.resumeRun(run.id)).rejects.toThrow(/only a paused run can be resumed/);
  });

  it('cancel aborts the calls in flight and the run ends cancelled', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 3 } } });
    const { orchestrator } = engine;
    provider.hold();
    const run = await orchestrator.startRun({ tasks: independent(5) });
    await provider.whenInFlight(3);
    await orchestrator.cancelRun(run.id);
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('cancelled');
    const work = provider.callsFor('work');
    expect(work).toHaveLength(3);
    expect(work.every((c) => c.aborted && c.request.signal.aborted)).toBe(true);
    provider.release();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const view = await orchestrator.getRun(run.id);
    expect(view.tasks.every((t) => t.status === 'cancelled')).toBe(true);
    expect(view.busyWorkers).toBe(0);
    expect(provider.callsFor('work')).toHaveLength(3);
    const events = await readJournal(engine.home, run.id);
    expect(ofType(events, 'run.cancelled')).toHaveLength(1);
    expect(ofType(events, 'task.completed')).toEqual([]);
    await expect(orchestrator.retryTask(run.id, 't1')).rejects.toThrow(/was cancelled; start a new run/);
  });
});

describe('cancel while planning', () => {
  it('aborts the plan call and ends the run cancelled without work', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider });
    provider.hold();
    const run = await engine.orchestrator.startRun({ goal: 'plan forever' });
    await provider.whenInFlight(1);
    await engine.orchestrator.cancelRun(run.id);
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('cancelled');
    expect(provider.callsFor('plan')[0]!.aborted).toBe(true);
    provider.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(provider.callsFor('work')).toEqual([]);
    expect((await engine.orchestrator.getRun(run.id)).status).toBe('cancelled');
  });
});

describe('budget', () => {
  it('pauses with run.budget_would_exceed instead of spending past max_cost_usd', async () => {
    // Each work call costs $1 (100k output tokens of the worker model at $10 per million); reviews are free.
    const provider = createScriptedProvider({
      usage: (call) => ({
        inputTokens: 0,
        outputTokens: call.purpose === 'work' ? 100_000 : 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 1, max_cost_usd: 2.5 } } });
    const run = await engine.orchestrator.startRun({ tasks: independent(5) });
    const summary = await engine.orchestrator.waitForRun(run.id);
    expect(summary).toMatchObject({ status: 'paused', pauseReason: 'budget' });
    expect(summary.costUsd).toBeCloseTo(2, 6);
    expect(summary.costUsd).toBeLessThanOrEqual(2.5);
    expect(provider.callsFor('work')).toHaveLength(2);
    const events = await readJournal(engine.home, run.id);
    // $2.00 spent is not past $2.50: the third task's $1.00 attempt is what did not fit, and the pause says so.
    expect(ofType(events, 'run.budget_exceeded')).toEqual([]);
    expect(ofType(events, 'run.budget_would_exceed')).toEqual([
      expect.objectContaining({
        costUsd: summary.costUsd,
        limitUsd: 2.5,
        neededUsd: 1,
        underWayUsd: 0,
        nextTask: 't3',
      }),
    ]);
    expect(ofType(events, 'run.paused')[0]).toMatchObject({ reason: 'budget' });
    expect(ofType(events, 'run.paused')[0]?.message).toBe(
      `spent $2.00 of the $2.50 budget, and the next task (t3) needs about $1.00 for its attempt and review, which does not fit; orc resume ${run.id} --budget <usd> goes on within a new one, without --budget past it`,
    );
    // Resuming is the person's decision to go on past the budget: the rest of the run is done.
    await engine.orchestrator.resumeRun(run.id);
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work')).toHaveLength(5);
  });

  it('resumes within a new budget given on resume, which pauses the run again when reached', async () => {
    const provider = createScriptedProvider({
      usage: (call) => ({
        inputTokens: 0,
        outputTokens: call.purpose === 'work' ? 100_000 : 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 1, max_cost_usd: 1.5 } } });
    const run = await engine.orchestrator.startRun({ tasks: independent(6) });
    expect(await engine.orchestrator.waitForRun(run.id)).toMatchObject({ pauseReason: 'budget', costUsd: 1 });
    // A budget already spent is refused in one line, and changes nothing.
    await expect(engine.orchestrator.resumeRun(run.id, { maxCostUsd: 1 })).rejects.toThrow(
      /has spent \$1\.00; a budget of \$1 would pause it again at once/,
    );
    expect((await engine.orchestrator.getRun(run.id)).status).toBe('paused');

    await engine.orchestrator.resumeRun(run.id, { maxCostUsd: 3.5 });
    const again = await engine.orchestrator.waitForRun(run.id);
    expect(again).toMatchObject({ status: 'paused', pauseReason: 'budget', costUsd: 3 });
    const events = await readJournal(engine.home, run.id);
    expect(ofType(events, 'run.budget_set')).toEqual([expect.objectContaining({ limitUsd: 3.5 })]);
    expect(ofType(events, 'run.budget_would_exceed').map((e) => e.limitUsd)).toEqual([1.5, 3.5]);

    // Another run on the same daemon keeps the daemon's own budget.
    const other = await engine.orchestrator.startRun({ tasks: independent(3) });
    expect(await engine.orchestrator.waitForRun(other.id)).toMatchObject({
      pauseReason: 'budget',
      costUsd: 1,
    });
  });

  it('counts the attempts in flight, so parallel workers do not overspend once a cost is known', async () => {
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'work' ? 5 + 5 * Number(call.taskId?.slice(1)) : 0),
      usage: (call) => ({
        inputTokens: 0,
        outputTokens: call.purpose === 'work' ? 100_000 : 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 3, max_cost_usd: 4.5 } } });
    const run = await engine.orchestrator.startRun({ tasks: independent(10) });
    expect((await engine.orchestrator.waitForRun(run.id)).pauseReason).toBe('budget');
    await eventually(
      async () => (await engine!.orchestrator.getRun(run.id)).busyWorkers === 0,
      'in-flight work to end',
    );
    // The first three go out before any cost is known ($3); after that, what is in flight counts.
    expect((await engine.orchestrator.getRun(run.id)).costUsd).toBeLessThanOrEqual(4.5);
  });
});

describe('review', () => {
  const reviewer = (verdicts: Record<string, TaskReview['verdict'][]>) =>
    createScriptedProvider({
      review: (call) => {
        const verdict = verdicts[call.taskId ?? '']?.[call.n - 1] ?? 'accept';
        return { verdict, feedback: `${verdict} #${call.n} for ${call.taskId}` };
      },
    });

  it('reworks a task sent back, with the feedback in the next prompt, then accepts it', async () => {
    const provider = reviewer({ t1: ['rework', 'accept'] });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ tasks: independent(2) });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    const t1 = (await engine.orchestrator.getRun(run.id, { full: true })).tasks.find((t) => t.id === 't1')!;
    expect(t1).toMatchObject({ status: 'done', reworks: 1, result: 'result of t1 #2' });
    expect(t1.attempts.map((a) => a.review?.verdict)).toEqual(['rework', 'accept']);
    const prompts = provider.callsFor('work', 't1').map((c) => c.request.prompt);
    expect(prompts).toHaveLength(2);
    expect(prompts[0]).not.toContain('sent back');
    expect(prompts[1]).toContain('Your previous answer was sent back by the reviewer: rework #1 for t1');
  });

  it('fails a task still not accepted after max_reworks', async () => {
    const provider = reviewer({ t1: ['rework', 'rework', 'rework'] });
    engine = await openTestEngine({ provider, config: { execution: { max_reworks: 1 } } });
    const run = await engine.orchestrator.startRun({ tasks: independent(2) });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('failed');
    const t1 = (await engine.orchestrator.getRun(run.id, { full: true })).tasks.find((t) => t.id === 't1')!;
    expect(t1.status).toBe('failed');
    expect(t1.error).toBe('still not accepted after 1 rework: rework #2 for t1');
    expect(provider.callsFor('work', 't1')).toHaveLength(2);
  });

  it('fails a task the manager rejects, and keeps the final review with the run', async () => {
    const provider = createScriptedProvider({
      review: (call) =>
        call.taskId === 't2'
          ? { verdict: 'fail', feedback: 'cannot be done' }
          : { verdict: 'accept', feedback: 'ok' },
      finalReview: () => ({ verdict: 'partial', summary: 't2 was rejected.', followUps: ['Rethink t2.'] }),
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ tasks: independent(3) });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('failed');
    const view = await engine.orchestrator.getRun(run.id, { full: true });
    expect(view.tasks.find((t) => t.id === 't2')).toMatchObject({
      status: 'failed',
      error: 'rejected by the manager: cannot be done',
    });
    expect(provider.callsFor('work', 't2')).toHaveLength(1);
    expect(view.finalReview).toEqual({
      verdict: 'partial',
      summary: 't2 was rejected.',
      followUps: ['Rethink t2.'],
    });
    expect(provider.callsFor('final-review')[0]!.request.prompt).toContain('t2 [failed]');
  });

  it('stores the final review with a completed run and in its run.completed event', async () => {
    const review = { verdict: 'success' as const, summary: 'All three done.', followUps: ['Ship it.'] };
    engine = await openTestEngine({ provider: createScriptedProvider({ finalReview: () => review }) });
    const run = await engine.orchestrator.startRun({ tasks: independent(3) });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect((await engine.orchestrator.getRun(run.id)).finalReview).toEqual(review);
    const events = await readJournal(engine.home, run.id);
    expect(ofType(events, 'run.completed')[0]!.review).toEqual(review);
  });
});

describe('what a person does after a run failed', () => {
  it('skipping the failed task reopens the run and its dependents run', async () => {
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'a') throw new ModelError('permanent', 'the task cannot be done');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({
      tasks: [
        { id: 'a', title: 'A' },
        { id: 'b', title: 'B', dependencies: ['a'] },
      ],
    });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('failed');
    await engine.orchestrator.skipTask(run.id, 'a');
    const summary = await engine.orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('completed');
    expect(summary.taskCounts).toEqual({ skipped: 1, done: 1 });
  });

  it("a skipped task's dependents wait for the skipped task's own dependencies", async () => {
    const provider = createScriptedProvider({ latencyMs: (call) => (call.taskId === 'a' ? 150 : 0) });
    engine = await openTestEngine({ provider });
    const { orchestrator } = engine;
    // a → b → c → d, and e after b as well; b and c are skipped while a still runs.
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'a', title: 'A' },
        { id: 'b', title: 'B', dependencies: ['a'] },
        { id: 'c', title: 'C', dependencies: ['b'] },
        { id: 'd', title: 'D', dependencies: ['c'] },
        { id: 'e', title: 'E', dependencies: ['b'] },
      ],
    });
    await provider.whenInFlight(1);
    await orchestrator.skipTask(run.id, 'b');
    await orchestrator.skipTask(run.id, 'c');
    const statuses = async () =>
      Object.fromEntries((await orchestrator.getRun(run.id)).tasks.map((t) => [t.id, t.status]));
    expect(await statuses()).toMatchObject({ b: 'skipped', c: 'skipped', d: 'pending', e: 'pending' });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    const events = await readJournal(engine.home, run.id);
    const at = (type: string, taskId: string, status?: string) =>
      events.findIndex(
        (e) =>
          e.type === type &&
          'taskId' in e &&
          e.taskId === taskId &&
          (!status || ('status' in e && e.status === status)),
      );
    const aDone = at('task.completed', 'a');
    for (const id of ['d', 'e']) expect(at('task.status', id, 'ready'), id).toBeGreaterThan(aDone);
    expect(
      provider
        .callsFor('work')
        .map((c) => c.taskId)
        .sort(),
    ).toEqual(['a', 'd', 'e']);
  });

  it('a skipped task whose dependencies are done lets its dependents go at once', async () => {
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'b') throw new ModelError('permanent', 'cannot');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({
      tasks: [
        { id: 'a', title: 'A' },
        { id: 'b', title: 'B', dependencies: ['a'] },
        { id: 'c', title: 'C', dependencies: ['b'] },
      ],
    });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('failed');
    await engine.orchestrator.skipTask(run.id, 'b');
    const summary = await engine.orchestrator.waitForRun(run.id);
    expect(summary).toMatchObject({ status: 'completed', taskCounts: { done: 2, skipped: 1 } });
  });

  it('a retry or a skip while the final review is written is taken: the review is dropped and written at the new end', async () => {
    // The first review waits until it is aborted: the run stays in its final review until a person acts.
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'final-review' && call.n === 1 ? 600_000 : 0),
      work: (call) => {
        if (call.taskId === 'a' && call.n === 1) throw new ModelError('permanent', 'not yet');
        if (call.taskId === 'c') throw new ModelError('permanent', 'never');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'a', title: 'A' },
        { id: 'b', title: 'B', dependencies: ['a'] },
        { id: 'c', title: 'C' },
      ],
    });
    await eventually(() => provider.callsFor('final-review').length === 1, 'the final review');
    expect((await orchestrator.getRun(run.id)).status).toBe('reviewing');

    expect((await orchestrator.retryTask(run.id, 'a')).status).toBe('executing');
    expect((await orchestrator.skipTask(run.id, 'c')).status).toBe('executing');
    expect(provider.callsFor('final-review')[0]!.aborted).toBe(true);
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary).toMatchObject({ status: 'completed', taskCounts: { done: 2, skipped: 1 } });
    expect(provider.callsFor('final-review')).toHaveLength(2);
    const events = await readJournal(engine.home, run.id);
    expect(events.filter((e) => e.type === 'run.completed' || e.type === 'run.failed')).toHaveLength(1);
  });

  it('a rollback while the final review is written is refused, naming when it can be done', async () => {
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'final-review' ? 600_000 : 0),
    });
    engine = await openTestEngine({ provider });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: independent(1) });
    await eventually(() => provider.callsFor('final-review').length === 1, 'the final review');
    const checkpoints = await orchestrator.listCheckpoints(run.id);
    await expect(orchestrator.rollback(run.id, checkpoints[0]!.id, 'full', undefined)).rejects.toThrow(
      `run ${run.id} is writing its final review; roll it back once it has finished`,
    );
    // Refused before anything was done: no checkpoint of the state before the rollback was taken.
    expect(await orchestrator.listCheckpoints(run.id)).toEqual(checkpoints);
    expect(provider.callsFor('final-review')[0]!.aborted).toBe(false);
  });

  it('announces every attempt, retries after a backoff included', async () => {
    let calls = 0;
    const provider = createScriptedProvider({
      work: () => {
        calls += 1;
        if (calls === 1) throw new ModelError('transient', 'server error (500)');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ tasks: independent(1) });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    const events = await readJournal(engine.home, run.id);
    expect(ofType(events, 'task.assigned').map((e) => e.attempt)).toEqual([1, 2]);
    // Ids lead each journal line, so a catch-up skips older lines without parsing them.
    const text = await readFile(join(engine.home, 'runs', run.id, 'events.jsonl'), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^\{"id":1,/);
  });

  it('fails a work call past worker_timeout as recoverable and retries it after a backoff, all on the run clock', async () => {
    const clock = new ManualClock();
    const provider = createScriptedProvider();
    provider.hold();
    engine = await openTestEngine({
      provider,
      clock,
      retryBaseMs: 1_000,
      config: { execution: { max_workers: 1, worker_timeout: 60 } },
    });
    const run = await engine.orchestrator.startRun({ tasks: independent(1) });
    await provider.whenInFlight(1);
    const [first] = provider.callsFor('work');
    clock.advance(59_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(first!.aborted).toBe(false);
    clock.advance(1);
    const ended = async () => ofType(await readJournal(engine!.home, run.id), 'task.attempt_ended');
    await eventually(async () => (await ended()).length === 1, 'the attempt to time out');
    expect((await ended())[0]).toMatchObject({
      outcome: 'failed',
      error: { category: 'recoverable', message: 'the attempt timed out after 60s' },
    });
    expect(first!.aborted).toBe(true);
    // The retry waits its backoff on the same clock: no second call until it has passed.
    provider.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(provider.callsFor('work')).toHaveLength(1);
    await eventually(() => {
      clock.advance(500);
      return provider.callsFor('work').length === 2;
    }, 'the retry');
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
  });
});
