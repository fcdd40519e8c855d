import {
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  removeTempProjects,
  tempProject,
  type TestEngine,
} from '@orc/test-support';
import { ZERO_USAGE } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await removeTempProjects();
});

describe('execution.max_task_cost_usd', () => {
  it('fails a task whose next call would pass its budget, counting its reviews, and the run goes on', async () => {
    // A work call costs $0.02 (10,000 input tokens of Sonnet), a review $0.01 (2,500 of Opus); the
    // manager sends task a back every time.
    const provider = createScriptedProvider({
      plan: () => ({
        summary: 'Two tasks.',
        tasks: [
          { id: 'a', title: 'Never good enough', description: '', dependencies: [], priority: 'medium' },
          { id: 'b', title: 'Fine at once', description: '', dependencies: [], priority: 'medium' },
        ],
      }),
      review: (call) =>
        call.taskId === 'a'
          ? { verdict: 'rework', feedback: 'Again.' }
          : { verdict: 'accept', feedback: 'Good.' },
      usage: (call) => ({
        ...ZERO_USAGE,
        inputTokens: call.purpose === 'work' ? 10_000 : call.purpose === 'review' ? 2_500 : 0,
      }),
    });
    engine = await openTestEngine({
      provider,
      config: {
        execution: { max_task_cost_usd: 0.06, max_reworks: 10, max_workers: 1 },
      },
    });
    const run = await engine.orchestrator.startRun({ goal: 'Two tasks' });
    const summary = await engine.orchestrator.waitForRun(run.id);
    const view = await engine.orchestrator.getRun(run.id, { full: true });
    const [a, b] = [view.tasks.find((t) => t.id === 'a')!, view.tasks.find((t) => t.id === 'b')!];

    expect(b.status).toBe('done');
    expect(a.status).toBe('failed');
    // Attempt 1: $0.02 + review $0.01; attempt 2 likewise: $0.06, so a third attempt would pass $0.06.
    expect(a.attempts.map((attempt) => Number(attempt.costUsd.toFixed(4)))).toEqual([0.03, 0.03]);
    // The cap, the figure a retry needs (its spend, an attempt and a review at their averages) and the command.
    expect(a.error).toBe(
      `permanent error: task a would pass the cost cap of a task ($0.06, execution.max_task_cost_usd): it has cost $0.06 and an attempt costs about $0.02; a retry is counted as $0.06 spent + $0.02 for an attempt (the run's average) + $0.01 for its review (the run's average), rounded up; a retry needs a cap of $0.09: orc retry ${run.id} a --task-budget 0.09`,
    );
    expect(summary.status).toBe('failed');
    // Each work call was given what the task had left: a Claude Code agent stops itself there.
    expect(provider.callsFor('work', 'a').map((call) => Number(call.request.budgetUsd?.toFixed(4)))).toEqual([
      0.06, 0.03,
    ]);
  });

  it("foresees the run's first review too: no task ends past its cap (the simulated provider)", async () => {
    // A simulated attempt costs about $0.0007 and its review as much: with nothing seen yet, the first
    // review was let through and t1 was done at $0.0014 of a $0.001 cap.
    engine = await openTestEngine({ config: { execution: { max_task_cost_usd: 0.001, max_workers: 1 } } });
    const run = await engine.orchestrator.startRun({ goal: 'Three tasks' });
    await engine.orchestrator.waitForRun(run.id);
    const view = await engine.orchestrator.getRun(run.id, { full: true });
    const costs = view.tasks.map((task) => task.attempts.reduce((sum, a) => sum + a.costUsd, 0));
    expect(costs.every((cost) => cost <= 0.001)).toBe(true);
    const t1 = view.tasks.find((t) => t.id === 't1')!;
    expect(t1.status).toBe('failed');
    expect(t1.error).toMatch(
      /task t1 would pass the cost cap of a task \(\$0\.001, .* and a review (?:costs about|is guessed at) \$0\.\d+ \([^)]*\); a retry is counted as \$0\.\d+ spent \+ .*, rounded up; a retry needs a cap of/,
    );
  });

  it('numbers an attempt its cap refused before it began as the attempt it would have been', async () => {
    // A cap below any call: the first attempt is refused before it is made.
    engine = await openTestEngine({ config: { execution: { max_task_cost_usd: 0.000001, max_workers: 1 } } });
    const run = await engine.orchestrator.startRun({ tasks: [{ id: 'a', title: 'Write a haiku' }] });
    await engine.orchestrator.waitForRun(run.id);
    const failed = (await readJournal(engine.home, run.id)).flatMap((e) =>
      e.type === 'task.attempt_failed' ? [e.attempt] : [],
    );
    // It read "attempt 0".
    expect(failed).toEqual([1]);
  });

  it("offers the raise on a held task's item when a plain retry would stop at the cap again", async () => {
    // Task 2 is deferred in Task Master and 3 waits for it; a cap below any call stops whatever runs.
    const task = (id: number, status: string, dependencies: number[] = []) => ({
      id,
      title: `Task ${id}`,
      description: `Task ${id}`,
      status,
      dependencies,
      priority: 'medium',
      subtasks: [],
    });
    const { dir } = await tempProject({
      json: {
        master: {
          tasks: [task(1, 'pending'), task(2, 'deferred'), task(3, 'pending', [2])],
          metadata: {},
        },
      },
    });
    engine = await openTestEngine({ config: { execution: { max_task_cost_usd: 0.000001, max_workers: 1 } } });
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
    await engine.orchestrator.waitForRun(run.id);
    const held = engine.orchestrator.listInbox({ runId: run.id }).items.find((item) => item.type === 'held');
    expect(held?.taskId).toBe('2');
    const [first] = held!.choices;
    expect(first).toMatchObject({ id: 'raise', key: 'r' });
    expect(first!.budgetUsd).toBeGreaterThan(0.000001);
    expect(first!.label).toMatch(
      /^raise the cost cap of a task to \$0\.\d+ and run it and what waits for it \(once it is pending in Task Master\) \(or raise --budget <usd> for another cap\)$/,
    );
    // A plain retry is no answer it takes: it would stop at the cap at once.
    await expect(engine.orchestrator.answerInbox(held!.id, { choice: 'retry' })).rejects.toThrow(
      /takes raise, skip; got "retry"/,
    );
    const answered = await engine.orchestrator.answerInbox(held!.id, { choice: 'raise' });
    expect(answered.closed?.outcome).toMatch(
      new RegExp(`^the cost cap of a task is \\$${first!.budgetUsd} now \\(was \\$0\\.000001\\)`),
    );
    await eventually(
      async () => (await readJournal(engine!.home, run.id)).some((e) => e.type === 'run.task_budget_set'),
      'the raised cap in the journal',
    );
  });
});
