import type { NewEvent, OrcEvent, RunView, TaskRecord, Usage } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { RunReportBuilder } from './run-report.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const usage = (input: number, output: number): Usage => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

function journal(entries: [number, NewEvent][]): OrcEvent[] {
  return entries.map(([s, event], i) => ({ ...event, id: i + 1, runId: 'r1', at: at(s) }));
}

function task(
  id: string,
  dependencies: string[],
  status: TaskRecord['status'],
  finishedAt?: number,
): TaskRecord {
  return {
    id,
    title: `Write ${id}`,
    description: '',
    dependencies,
    priority: 'medium',
    status,
    attempts: [],
    reworks: 0,
    ...(finishedAt !== undefined && { finishedAt: at(finishedAt) }),
  };
}

function view(tasks: TaskRecord[], extra: Partial<RunView> = {}): RunView {
  return {
    id: 'r1',
    goal: 'a goal',
    status: 'failed',
    models: {
      manager: { provider: 'anthropic', model: 'opus' },
      worker: { provider: 'anthropic', model: 'sonnet' },
      simulated: false,
    },
    maxWorkers: 2,
    createdAt: at(0),
    updatedAt: at(100),
    finishedAt: at(100),
    taskCounts: { done: 3, failed: 1 },
    taskTotal: tasks.length,
    usage: usage(10_000, 2_000),
    costUsd: 1,
    lastEventId: 0,
    tasks,
    busyWorkers: 0,
    ...extra,
  };
}

/** a → b → d, a → c; b is sent back once, c fails, d is retried by a person after a failed attempt. */
const EVENTS = journal([
  [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
  [10, { type: 'task.status', taskId: 'a', status: 'reviewing' }],
  [
    11,
    {
      type: 'task.reviewed',
      taskId: 'a',
      attempt: 1,
      review: { verdict: 'accept', feedback: 'Good.' },
      usage: usage(1000, 100),
      costUsd: 0.1,
    },
  ],
  [
    11,
    { type: 'task.completed', taskId: 'a', attempt: 1, result: 'ok', usage: usage(1000, 100), costUsd: 0.1 },
  ],
  [12, { type: 'task.assigned', taskId: 'b', worker: 0, attempt: 1 }],
  [12, { type: 'task.assigned', taskId: 'c', worker: 1, attempt: 1 }],
  [20, { type: 'task.status', taskId: 'b', status: 'reviewing' }],
  [
    21,
    {
      type: 'task.reviewed',
      taskId: 'b',
      attempt: 1,
      review: { verdict: 'rework', feedback: 'Add the examples for case 3. Then it is fine.' },
      usage: usage(1000, 100),
      costUsd: 0.1,
    },
  ],
  [22, { type: 'task.assigned', taskId: 'b', worker: 0, attempt: 2 }],
  [25, { type: 'task.status', taskId: 'c', status: 'reviewing' }],
  [
    26,
    {
      type: 'task.reviewed',
      taskId: 'c',
      attempt: 1,
      review: { verdict: 'fail', feedback: 'Off topic.' },
      usage: usage(500, 50),
      costUsd: 0.05,
    },
  ],
  [26, { type: 'task.failed', taskId: 'c', error: 'Off topic.' }],
  [30, { type: 'task.status', taskId: 'b', status: 'reviewing' }],
  [
    31,
    {
      type: 'task.reviewed',
      taskId: 'b',
      attempt: 2,
      review: { verdict: 'rework', feedback: 'Add the examples for case 7.' },
      usage: usage(1000, 100),
      costUsd: 0.1,
    },
  ],
  [32, { type: 'task.assigned', taskId: 'b', worker: 0, attempt: 3 }],
  [40, { type: 'task.status', taskId: 'b', status: 'reviewing' }],
  [
    41,
    {
      type: 'task.reviewed',
      taskId: 'b',
      attempt: 3,
      review: { verdict: 'accept', feedback: 'Good.' },
      usage: usage(1000, 100),
      costUsd: 0.1,
    },
  ],
  [
    41,
    { type: 'task.completed', taskId: 'b', attempt: 3, result: 'ok', usage: usage(1000, 100), costUsd: 0.1 },
  ],
  [42, { type: 'task.assigned', taskId: 'd', worker: 1, attempt: 1 }],
  [
    50,
    {
      type: 'task.attempt_failed',
      taskId: 'd',
      attempt: 1,
      error: { category: 'permanent', message: 'boom' },
    },
  ],
  [50, { type: 'task.status', taskId: 'd', status: 'failed', reason: 'boom' }],
  [60, { type: 'task.status', taskId: 'd', status: 'ready', reason: 'retried by a person' }],
  [61, { type: 'task.assigned', taskId: 'd', worker: 1, attempt: 2 }],
  [70, { type: 'task.status', taskId: 'd', status: 'reviewing' }],
  [
    71,
    {
      type: 'task.reviewed',
      taskId: 'd',
      attempt: 2,
      review: { verdict: 'accept', feedback: 'Good.' },
      usage: usage(1000, 100),
      costUsd: 0.1,
    },
  ],
  [
    71,
    { type: 'task.completed', taskId: 'd', attempt: 2, result: 'ok', usage: usage(1000, 100), costUsd: 0.1 },
  ],
  [
    80,
    { type: 'feedback.rated', rating: { taskId: 'b', score: 2, comment: 'took three tries', at: at(80) } },
  ],
  [81, { type: 'feedback.rated', rating: { score: 4, at: at(81) } }],
]);

function build(events = EVENTS, extra: Partial<RunView> = {}) {
  const builder = new RunReportBuilder();
  for (const event of events) builder.add(event);
  const ratings = events.flatMap((e) => (e.type === 'feedback.rated' ? [e.rating] : []));
  const tasks = [
    task('a', [], 'done', 11),
    task('b', ['a'], 'done', 41),
    task('c', ['a'], 'failed', 26),
    {
      ...task('d', ['b'], 'done', 71),
      // Its first attempt failed after its answer was paid for: only the record has the cost.
      attempts: [
        {
          n: 1,
          worker: 1,
          startedAt: at(42),
          outcome: 'failed' as const,
          usage: usage(5000, 500),
          costUsd: 0.75,
        },
        {
          n: 2,
          worker: 1,
          startedAt: at(61),
          outcome: 'succeeded' as const,
          usage: usage(1000, 100),
          costUsd: 0.1,
        },
      ],
    },
  ];
  return builder.finish(view(tasks, { ratings, ...extra }), T0 + 200_000);
}

describe('RunReportBuilder', () => {
  it('counts verdicts, rates and groups reasons that differ only in their numbers', () => {
    const report = build();
    expect(report.reviews).toEqual({ accept: 3, rework: 2, fail: 1 });
    // b reworked, of a, b, c, d reviewed; c failed of 3 done + 1 failed.
    expect(report.reworkRate).toBe(0.25);
    expect(report.failureRate).toBe(0.25);
    expect(report.reworkReasons).toEqual([
      { reason: 'Add the examples for case 3.', count: 2, tasks: ['b'] },
    ]);
    expect(report.failureReasons).toEqual([{ reason: 'Off topic.', count: 1, tasks: ['c'] }]);
  });

  it("splits spend between workers' attempts and the manager, and per model", () => {
    const report = build();
    const b = report.tasks.find((t) => t.id === 'b')!;
    expect(b.spend.costUsd).toBeCloseTo(0.3);
    expect(b.attempts).toBe(3);
    expect(b.reworks).toBe(2);
    // d's failed attempt is priced from its record.
    expect(report.tasks.find((t) => t.id === 'd')!.spend.costUsd).toBeCloseTo(0.85);
    expect(report.spend.workers.costUsd).toBeCloseTo(0.1 + 0.3 + 0.05 + 0.85);
    expect(report.spend.manager.costUsd).toBe(0);
    expect(report.spend.byModel.map((m) => m.model)).toEqual(['opus', 'sonnet']);
  });

  it('finds the critical path by elapsed time and measures work, makespan and utilisation', () => {
    const report = build();
    expect(report.time.criticalPath).toEqual(['a', 'b', 'd']);
    // By the time each was worked on (not its first start to its end, which counts reviews and waits):
    // a 9 s, b 8+8+8 s, d 8+9 s.
    expect(report.time.criticalPathMs).toBe(50_000);
    expect(report.time.makespanMs).toBe(100_000);
    expect(report.tasks.filter((t) => t.onCriticalPath).map((t) => t.id)).toEqual(['a', 'b', 'd']);
    // Work ends when the review starts: a 9 s, b 8+8+8, c 13, d 8+9 = 63 s of 2 workers × 100 s.
    expect(report.time.utilisation).toBeCloseTo(63 / 200);
    expect(report.tasks.find((t) => t.id === 'b')!.workMs).toBe(24_000);
  });

  it('keeps every attempt on the timeline with how it ended', () => {
    const report = build();
    expect(report.timeline.filter((a) => a.taskId === 'b').map((a) => a.verdict)).toEqual([
      'rework',
      'rework',
      'accept',
    ]);
    expect(report.timeline.find((a) => a.taskId === 'd' && a.n === 1)).toMatchObject({
      outcome: 'failed',
      endedAt: at(50),
      worker: 1,
    });
  });

  it("lists verdicts, a failed attempt, a person's retry and ratings as feedback", () => {
    const report = build();
    expect(report.feedback.map((f) => `${f.kind} ${f.taskId ?? 'run'}`)).toEqual([
      'accept a',
      'rework b',
      'fail c',
      'rework b',
      'accept b',
      'attempt_failed d',
      'retry d',
      'accept d',
      'rating b',
      'rating run',
    ]);
    expect(report.feedback.find((f) => f.kind === 'retry')!.text).toBe('retried by a person');
    expect(report.ratings).toEqual({ count: 2, average: 3 });
    expect(report.tasks.find((t) => t.id === 'b')!.ratings).toHaveLength(1);
  });

  it('notes skips and rollbacks, and ends attempts a daemon stop cut off at the last event before it', () => {
    const report = build(
      journal([
        [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
        [5, { type: 'task.status', taskId: 'c', status: 'skipped' }],
        [
          6,
          {
            type: 'checkpoint.created',
            checkpoint: {
              id: 'cp1',
              runId: 'r1',
              createdAt: at(6),
              reason: 'manual',
              tasksDone: 0,
              lastEventId: 2,
            },
          },
        ],
        [90, { type: 'run.restored', interruptedTasks: ['a'] }],
        [95, { type: 'run.rolled_back', checkpointId: 'cp1', strategy: 'full', resetTasks: ['a', 'b'] }],
      ]),
      { status: 'executing', finishedAt: undefined, taskCounts: { pending: 4 } },
    );
    expect(report.timeline).toEqual([
      { taskId: 'a', n: 1, worker: 0, startedAt: at(1), endedAt: at(6), outcome: 'interrupted' },
    ]);
    expect(report.feedback.map((f) => f.kind)).toEqual(['skip', 'rollback']);
    expect(report.feedback[1]!.text).toContain('cp1');
    expect(report.time.makespanMs).toBe(200_000);
  });

  it('counts the attempts a task has after a rollback, as orc show lists them, and its redo is no retry', () => {
    const checkpoint = (s: number, id: string, lastEventId: number): [number, NewEvent] => [
      s,
      {
        type: 'checkpoint.created',
        checkpoint: { id, runId: 'r1', createdAt: at(s), reason: 'manual', tasksDone: 0, lastEventId },
      },
    ];
    const attempt = (s: number, n: number): [number, NewEvent][] => [
      [s, { type: 'task.status', taskId: 'a', status: 'running', from: 'ready' }],
      [s, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: n }],
      [s + 5, { type: 'task.status', taskId: 'a', status: 'reviewing', from: 'running' }],
      [
        s + 6,
        { type: 'task.completed', taskId: 'a', attempt: n, result: 'ok', usage: usage(10, 1), costUsd: 0.01 },
      ],
      [s + 6, { type: 'task.status', taskId: 'a', status: 'done', from: 'reviewing' }],
    ];
    // cp1 before a began (event 1); a done; rolled back to cp1 (cp2 taken before it): a is redone, as
    // attempt 1 again. Then rolled back to cp2: the first attempt is a's again, the redo undone.
    const events = journal([
      checkpoint(0, 'cp1', 0),
      ...attempt(1, 1),
      checkpoint(10, 'cp2', 6),
      [11, { type: 'run.rolled_back', checkpointId: 'cp1', strategy: 'full', resetTasks: ['a'] }],
      [11, { type: 'task.status', taskId: 'a', status: 'ready', from: 'pending' }],
      ...attempt(12, 1),
    ]);
    const tasks = [task('a', [], 'done', 18)];
    const once = new RunReportBuilder();
    for (const event of events) once.add(event);
    const afterOne = once.finish(view(tasks), T0 + 200_000);
    expect(afterOne.tasks[0]).toMatchObject({
      attempts: 1,
      undoneAttempts: 1,
      workMs: 10_000,
      elapsedMs: 5_000,
    });
    expect(afterOne.feedback.map((f) => f.kind)).toEqual(['rollback']);
    expect(afterOne.feedback[0]!.text).toBe(
      'rolled back to cp1 (full); 1 task reset, to go on from there: a',
    );
    // Every attempt stays on the timeline: the money and time were spent.
    expect(afterOne.timeline).toHaveLength(2);

    once.add({
      ...journal([
        [30, { type: 'run.rolled_back', checkpointId: 'cp2', strategy: 'full', resetTasks: ['a'] }],
      ])[0]!,
      id: events.length + 1,
    });
    const afterTwo = once.finish(view(tasks), T0 + 200_000);
    expect(afterTwo.tasks[0]).toMatchObject({ attempts: 1, undoneAttempts: 1 });
    expect(afterTwo.timeline.map((a) => a.startedAt)).toEqual([at(1), at(12)]);
  });

  it("keeps the attempts a rollback's records hold: a selective rollback keeps them all", () => {
    const attempted = (n: number, s: number) => ({
      n,
      worker: 0,
      startedAt: at(s),
      outcome: 'succeeded' as const,
      usage: usage(10, 1),
      costUsd: 0.01,
    });
    const events = journal([
      [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
      [5, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 2 }],
      [
        9,
        {
          type: 'run.rolled_back',
          checkpointId: 'cp-unknown',
          strategy: 'selective',
          resetTasks: ['a'],
          tasks: [{ ...task('a', [], 'pending'), attempts: [attempted(1, 1), attempted(2, 5)] }],
        },
      ],
      [10, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 3 }],
    ]);
    const report = build(events);
    expect(report.tasks.find((t) => t.id === 'a')).toMatchObject({ attempts: 3 });
    expect(report.tasks.find((t) => t.id === 'a')!.undoneAttempts).toBeUndefined();
    // Without the records, a selective rollback keeps them too.
    const older = events.map((e) => (e.type === 'run.rolled_back' ? { ...e, tasks: undefined } : e));
    expect(build(older).tasks.find((t) => t.id === 'a')).toMatchObject({ attempts: 3 });
  });

  it('calls a move out of a settled status without the event saying from where a retry (older journals)', () => {
    const report = build(
      journal([
        [1, { type: 'task.status', taskId: 'a', status: 'failed' }],
        [2, { type: 'task.status', taskId: 'a', status: 'ready' }],
      ]),
    );
    expect(report.feedback.map((f) => [f.kind, f.text])).toEqual([['retry', 'retried after it was failed']]);
  });

  it('counts failures of tasks retried since apart from the tasks failed now, and lists budgets a person set', () => {
    const report = build(
      journal([
        [1, { type: 'run.budget_set', limitUsd: 5 }],
        [2, { type: 'task.failed', taskId: 'a', error: 'permanent error: 400 bad request' }],
        [2, { type: 'task.failed', taskId: 'c', error: 'permanent error: 400 bad request' }],
        [3, { type: 'run.task_budget_set', limitUsd: 0.5 }],
        [4, { type: 'task.status', taskId: 'a', status: 'ready', from: 'failed' }],
      ]),
    );
    // a was retried (done at the end), c is still failed.
    expect(report.failures).toEqual({ count: 2, since: 1, skipped: 0, cancelled: 0 });
    expect(report.failureReasons).toEqual([
      { reason: 'permanent error: 400 bad request', count: 2, tasks: ['a', 'c'] },
    ]);
    expect(report.feedback.filter((f) => f.kind === 'budget').map((f) => f.text)).toEqual([
      'the run may cost $5.00',
      'a task may cost $0.50',
    ]);
  });

  it("keeps the workers' spend apart from the manager's reviews of their attempts", () => {
    const spend = (input: number, costUsd: number) => ({ usage: usage(input, 0), costUsd });
    const report = build(
      journal([
        [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
        [5, { type: 'task.worked', taskId: 'a', attempt: 1, output: 'ok', ...spend(100, 0.2) }],
        [6, { type: 'task.review_charged', taskId: 'a', attempt: 1, ...spend(10, 0.01) }],
        [
          7,
          {
            type: 'task.reviewed',
            taskId: 'a',
            attempt: 1,
            review: { verdict: 'accept', feedback: '' },
            charge: spend(50, 0.1),
          },
        ],
        // The anthropic provider's task.completed: the attempt's cost with its reviews'.
        [7, { type: 'task.completed', taskId: 'a', attempt: 1, ...spend(160, 0.31) }],
      ]),
      { costUsd: 0.5, usage: usage(300, 0) },
    );
    expect(report.tasks.find((t) => t.id === 'a')!.spend).toEqual(spend(100, 0.2));
    expect(report.spend.workers).toEqual(spend(100, 0.2));
    expect(report.spend.manager.costUsd).toBeCloseTo(0.3, 9);
    expect(report.spend.manager.usage.inputTokens).toBe(200);
  });

  it("counts the worker's spend and time of an answer a full rollback kept for its review", () => {
    // A real journal's events for one task (orc run --provider simulated; a checkpoint while its answer
    // waited for its review; orc rollback --strategy full; orc resume), its seconds rounded.
    const worker = { usage: usage(8, 51), costUsd: 0.0005462 };
    const charge = { usage: usage(96, 19), costUsd: 0.0008024 };
    // The attempt's record with one review: before the rollback, and again after it (the checkpoint's
    // record held none of the first review).
    const completed = { usage: usage(104, 70), costUsd: 0.0013486 };
    const answered = {
      n: 1,
      worker: 0,
      startedAt: at(1),
      outcome: 'succeeded' as const,
      ...worker,
      output: 'done',
      endedAt: at(2.5),
    };
    const review = { verdict: 'accept' as const, feedback: 'The result covers the task.' };
    const events = journal([
      [1, { type: 'task.status', taskId: 'a', status: 'running', from: 'ready' }],
      [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
      [2.5, { type: 'task.worked', taskId: 'a', attempt: 1, output: 'done', streamed: 0, ...worker }],
      [2.5, { type: 'task.status', taskId: 'a', status: 'reviewing', from: 'running' }],
      [
        3.5,
        {
          type: 'checkpoint.created',
          checkpoint: {
            id: 'cp2',
            runId: 'r1',
            label: 'mid',
            createdAt: at(3.5),
            reason: 'manual',
            tasksDone: 0,
            lastEventId: 4,
          },
        },
      ],
      [4, { type: 'task.reviewed', taskId: 'a', attempt: 1, review, charge }],
      [4, { type: 'task.completed', taskId: 'a', attempt: 1, ...completed }],
      [4, { type: 'task.status', taskId: 'a', status: 'done', from: 'reviewing' }],
      [
        8,
        {
          type: 'run.rolled_back',
          checkpointId: 'cp2',
          strategy: 'full',
          resetTasks: ['a'],
          tasks: [
            {
              ...task('a', [], 'pending'),
              attempts: [answered],
              readyAt: at(0.9),
              startedAt: at(0.95),
            },
          ],
        },
      ],
      [8, { type: 'task.status', taskId: 'a', status: 'ready', from: 'pending' }],
      [8.3, { type: 'task.status', taskId: 'a', status: 'reviewing', from: 'ready', worker: 1 }],
      [10, { type: 'task.reviewed', taskId: 'a', attempt: 1, review, charge }],
      [10, { type: 'task.completed', taskId: 'a', attempt: 1, ...completed }],
      [10, { type: 'task.status', taskId: 'a', status: 'done', from: 'reviewing' }],
    ]);
    const total = { usage: usage(200, 89), costUsd: 0.002151 };
    const report = build(events, total);
    const row = report.tasks.find((t) => t.id === 'a')!;
    // Its one attempt, as orc show lists it: the worker's call; both reviews are the manager's.
    expect(row).toMatchObject({ attempts: 1, spend: worker, elapsedMs: 1500, workMs: 1500 });
    expect(row.undoneAttempts).toBeUndefined();
    expect(report.spend.workers).toEqual(worker);
    expect(report.spend.manager.costUsd).toBeCloseTo(2 * charge.costUsd, 9);
    expect(report.spend.manager.usage).toMatchObject({ inputTokens: 192, outputTokens: 38 });
    expect(report.time.criticalPath[0]).toBe('a');
    // A journal without the rollback's records still has the worker's spend.
    const older = events.map((e) => (e.type === 'run.rolled_back' ? { ...e, tasks: undefined } : e));
    expect(build(older, total).tasks.find((t) => t.id === 'a')!.spend).toEqual(worker);
  });
});
