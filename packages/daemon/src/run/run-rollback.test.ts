import { runWorkMs, taskWorkMs, type TaskRecord, type TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ManualClock,
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  type ScriptedProvider,
  type TestEngine,
} from '@orc/test-support';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

// a → b, and c on its own.
const TASKS: TaskSpecInput[] = [
  { id: 'a', title: 'A' },
  { id: 'b', title: 'B', dependencies: ['a'] },
  { id: 'c', title: 'C' },
];

/** c's first review hangs (until its call is cut off), so c's answer waits for its review. */
function providerWithSlowReviewOfC(): ScriptedProvider {
  return createScriptedProvider({
    latencyMs: (call) => (call.purpose === 'review' && call.taskId === 'c' && call.n === 1 ? 60_000 : 0),
  });
}

async function taskOf(runId: string, id: string): Promise<TaskRecord> {
  const run = await engine!.orchestrator.getRun(runId, { full: true });
  return run.tasks.find((t) => t.id === id)!;
}

/** A run whose c answered and waits for its review, a and b done. */
async function runWithAnswerInReview(provider: ScriptedProvider) {
  engine = await openTestEngine({ provider, config: { checkpoints: { every_n_tasks: 0 } } });
  const run = await engine.orchestrator.startRun({ tasks: TASKS });
  await eventually(async () => {
    const view = await engine!.orchestrator.getRun(run.id, { full: true });
    return view.tasks.filter((t) => t.status === 'done').length === 2;
  }, 'a and b done');
  await eventually(async () => (await taskOf(run.id, 'c')).status === 'reviewing', 'c in review');
  return { orchestrator: engine.orchestrator, runId: run.id };
}

describe('a rollback keeps an answer that waits for its review (work is not paid twice)', () => {
  it('full, to a checkpoint that has the answer: the answer goes to review, not to another attempt', async () => {
    const provider = providerWithSlowReviewOfC();
    const { orchestrator, runId } = await runWithAnswerInReview(provider);
    const checkpoint = await orchestrator.createCheckpoint(runId, 'c in review');
    const rolled = await orchestrator.rollback(runId, checkpoint.id, 'full');
    expect(rolled.rollback.reset).toEqual([]);
    await orchestrator.resumeRun(runId);
    expect((await orchestrator.waitForRun(runId)).status).toBe('completed');
    expect(provider.callsFor('work', 'c')).toHaveLength(1);
    expect(provider.callsFor('review', 'c')).toHaveLength(2);
    const c = await taskOf(runId, 'c');
    expect(c).toMatchObject({ status: 'done', result: 'result of c #1' });
    expect(c.attempts).toHaveLength(1);
  });

  it('partial, to a checkpoint from before the answer: an answer to unchanged inputs goes to review', async () => {
    const provider = providerWithSlowReviewOfC();
    engine = await openTestEngine({ provider, config: { checkpoints: { every_n_tasks: 0 } } });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: TASKS });
    const [planned] = await orchestrator.listCheckpoints(run.id);
    await eventually(async () => (await taskOf(run.id, 'c')).status === 'reviewing', 'c in review');
    const rolled = await orchestrator.rollback(run.id, planned!.id, 'partial');
    expect(rolled.rollback.reset).not.toContain('c');
    await orchestrator.resumeRun(run.id);
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', 'c')).toHaveLength(1);
    expect(await taskOf(run.id, 'c')).toMatchObject({ status: 'done', result: 'result of c #1' });
  });

  it('selective, of other tasks: the answer goes to review', async () => {
    const provider = providerWithSlowReviewOfC();
    const { orchestrator, runId } = await runWithAnswerInReview(provider);
    const checkpoint = await orchestrator.createCheckpoint(runId);
    const rolled = await orchestrator.rollback(runId, checkpoint.id, 'selective', ['b']);
    expect(rolled.rollback.reset).toEqual(['b']);
    await orchestrator.resumeRun(runId);
    expect((await orchestrator.waitForRun(runId)).status).toBe('completed');
    expect(provider.callsFor('work', 'c')).toHaveLength(1);
    expect(provider.callsFor('work', 'b')).toHaveLength(2);
  });

  it('full, to a checkpoint from before the task started: the task is worked again', async () => {
    const provider = providerWithSlowReviewOfC();
    engine = await openTestEngine({ provider, config: { checkpoints: { every_n_tasks: 0 } } });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: TASKS });
    const [planned] = await orchestrator.listCheckpoints(run.id);
    await eventually(async () => (await taskOf(run.id, 'c')).status === 'reviewing', 'c in review');
    const rolled = await orchestrator.rollback(run.id, planned!.id, 'full');
    expect(rolled.rollback.reset).toContain('c');
    await orchestrator.resumeRun(run.id);
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', 'c')).toHaveLength(2);
    const events = await readJournal(engine.home, run.id);
    expect(events.some((e) => e.type === 'run.rolled_back')).toBe(true);
  });
});

describe('time after a rollback', () => {
  it("counts a run's and a task's working time: not the hours it sat finished or paused", async () => {
    const clock = new ManualClock();
    const HOUR = 3_600_000;
    // Each attempt takes 5 s of the run's clock.
    const provider = createScriptedProvider({
      work: (call) => {
        clock.advance(5000);
        return `result of ${call.taskId} #${call.n}`;
      },
    });
    // One worker: the attempts take the clock one at a time.
    engine = await openTestEngine({
      provider,
      clock,
      config: { checkpoints: { every_n_tasks: 0 }, execution: { max_workers: 1 } },
    });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    const checkpoint = await orchestrator.createCheckpoint(run.id);
    // Finished for an hour, rolled back, paused for another hour, then resumed.
    clock.advance(HOUR);
    await orchestrator.rollback(run.id, checkpoint.id, 'selective', ['a']);
    clock.advance(HOUR);
    await orchestrator.resumeRun(run.id);
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('completed');
    clock.advance(HOUR);

    // Five attempts of 5 s (a, b, c, then a and b again).
    expect(runWorkMs(summary, clock.now())).toBe(25_000);
    const b = await taskOf(run.id, 'b');
    expect(taskWorkMs(b, clock.now())).toBe(10_000);
    const report = await orchestrator.runReport(run.id);
    expect(report.time.makespanMs).toBe(25_000);
    // a → b as the run ended: its attempts since the rollback, 5 s each.
    expect(report.time.criticalPath).toEqual(['a', 'b']);
    expect(report.time.criticalPathMs).toBe(10_000);
    expect(report.tasks.find((t) => t.id === 'b')!.workMs).toBe(10_000);
    // Its tries are the attempts its record lists (orc show): a selective rollback keeps them all.
    expect(report.tasks.find((t) => t.id === 'b')!.attempts).toBe(b.attempts.length);
    expect(b.attempts).toHaveLength(2);
  });
});
