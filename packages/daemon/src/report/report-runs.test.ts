import { TASK_PAGE_LIMIT, ZERO_USAGE, type Usage } from '@orc/shared';
import { createScriptedProvider, openTestEngine, tempHome, type TestEngine } from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';

const WORK_USAGE: Usage = { inputTokens: 1000, outputTokens: 400, cacheReadTokens: 0, cacheWriteTokens: 0 };
const TASKS = [
  { id: 'a', title: 'Write the outline' },
  { id: 'b', title: 'Write the body', dependencies: ['a'] },
  { id: 'c', title: 'Add a joke' },
];

let engines: TestEngine[] = [];
let removeHome: (() => Promise<void>) | undefined;
afterEach(async () => {
  for (const engine of engines) await engine.close();
  await removeHome?.();
  engines = [];
  removeHome = undefined;
});

/** b is sent back once; c is refused for good, fails the run, and a person retries it. */
function provider() {
  return createScriptedProvider({
    usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
    work: (call) => {
      if (call.taskId === 'c' && call.n === 1) throw new ModelError('permanent', 'refused by the model');
      return `result of ${call.taskId} #${call.n}`;
    },
    review: (call) =>
      call.taskId === 'b' && call.n === 1
        ? { verdict: 'rework', feedback: 'Cover case 2 as well.' }
        : { verdict: 'accept', feedback: 'Fine.' },
  });
}

describe('reports from the engine', () => {
  it("tells a run's verdicts, a person's retry and rating, and keeps the rating across a restart", async () => {
    const temp = await tempHome('orc-report-');
    removeHome = temp.remove;
    const first = await openTestEngine({ provider: provider(), home: temp.home });
    engines.push(first);
    const { orchestrator } = first;
    const { id: runId } = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(runId)).status).toBe('failed');
    await orchestrator.retryTask(runId, 'c');
    expect((await orchestrator.waitForRun(runId)).status).toBe('completed');
    await orchestrator.addFeedback(runId, { taskId: 'b', score: 2, comment: 'needed a second try' });
    await expect(orchestrator.addFeedback(runId, { taskId: 'zz', score: 3 })).rejects.toMatchObject({
      code: 'TASK_NOT_FOUND',
    });

    const report = await orchestrator.runReport(runId);
    expect(report.reviews).toEqual({ accept: 3, rework: 1, fail: 0 });
    expect(report.reworkReasons).toEqual([{ reason: 'Cover case 2 as well.', count: 1, tasks: ['b'] }]);
    expect(report.failureReasons).toHaveLength(1);
    expect(report.failureReasons[0]!.tasks).toEqual(['c']);
    expect(report.feedback.map((f) => `${f.kind} ${f.taskId ?? ''}`)).toEqual(
      expect.arrayContaining(['attempt_failed c', 'retry c', 'rework b', 'rating b']),
    );
    expect(report.feedback.find((f) => f.kind === 'retry')!.text).toBe('retried by a person');
    // Only work is priced here: five attempts (a, b twice, c twice), the manager's calls free.
    expect(report.spend.workers.costUsd).toBeCloseTo(report.spend.total.costUsd, 9);
    expect(report.spend.manager.costUsd).toBeCloseTo(0, 9);
    expect(report.timeline).toHaveLength(5);
    // The longer of a → b and c, by the time their attempts were worked on (not the wait for the
    // person's retry), and never longer than the run.
    const elapsed = (id: string) => report.tasks.find((t) => t.id === id)!.elapsedMs;
    const chain = elapsed('a') + elapsed('b');
    expect(report.time.criticalPathMs).toBe(Math.max(chain, elapsed('c')));
    expect(report.time.criticalPath.reduce((sum, id) => sum + elapsed(id), 0)).toBe(
      report.time.criticalPathMs,
    );
    expect(report.time.criticalPathMs).toBeLessThanOrEqual(report.time.makespanMs);
    expect(report.ratings).toEqual({ count: 1, average: 2 });
    const window = await orchestrator.runsReport(3_600_000);
    expect(window.runs.map((r) => r.id)).toEqual([runId]);
    expect(window.reworkByKind).toEqual([
      { key: 'write', reviewed: 2, reworked: 1, rate: 0.5 },
      { key: 'add', reviewed: 1, reworked: 0, rate: 0 },
    ]);

    await first.orchestrator.close(0);
    const second = await openTestEngine({ provider: provider(), home: temp.home });
    engines.push(second);
    const view = await second.orchestrator.getRun(runId);
    expect(view.ratings).toEqual([
      expect.objectContaining({ taskId: 'b', score: 2, comment: 'needed a second try' }),
    ]);
    expect((await second.orchestrator.runReport(runId)).feedback).toEqual(report.feedback);
  });

  it('reports every task of a run larger than the page a view carries', async () => {
    const engine = await openTestEngine({
      provider: createScriptedProvider(),
      config: { execution: { max_workers: 8 } },
    });
    engines.push(engine);
    const size = TASK_PAGE_LIMIT + 20;
    const tasks = Array.from({ length: size }, (_, i) => ({ id: `t${i + 1}`, title: `Task ${i + 1}` }));
    const { id: runId } = await engine.orchestrator.startRun({ tasks });
    expect((await engine.orchestrator.waitForRun(runId)).status).toBe('completed');
    const report = await engine.orchestrator.runReport(runId);
    expect(report.tasks).toHaveLength(size);
    expect(report.tasks.at(-1)!.id).toBe(`t${size}`);
    expect(report.reviews.accept).toBe(size);
  });

  it('refuses to report or rate a run it does not have', async () => {
    const engine = await openTestEngine({ provider: provider() });
    engines.push(engine);
    await expect(engine.orchestrator.runReport('nope')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    await expect(engine.orchestrator.addFeedback('nope', { score: 3 })).rejects.toMatchObject({
      code: 'RUN_NOT_FOUND',
    });
    expect((await engine.orchestrator.runsReport(60_000)).runs).toEqual([]);
  });
});
