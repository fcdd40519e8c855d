import { describe, expect, it } from 'vitest';
import type { NewEvent, OrcEvent } from './events.js';
import type { RunView } from './run.js';
import { applyEvent, applyEvents, wantsFreshView } from './run-view-reducer.js';
import type { TaskRecord, TaskStatus } from './task.js';

const usage = { inputTokens: 100, outputTokens: 40, cacheReadTokens: 0, cacheWriteTokens: 0 };

function emptyView(): RunView {
  return {
    id: 'r1',
    goal: 'write docs',
    status: 'analyzing',
    models: {
      manager: { provider: 'simulated', model: 'm' },
      worker: { provider: 'simulated', model: 'w' },
      simulated: true,
    },
    maxWorkers: 2,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    taskCounts: {},
    taskTotal: 0,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
    costUsd: 0,
    lastEventId: 0,
    tasks: [],
    busyWorkers: 0,
  };
}

/** Numbers events in order, as the store does. */
function stream(events: NewEvent[], firstId = 1): OrcEvent[] {
  return events.map((e, i) => ({
    ...e,
    id: firstId + i,
    runId: 'r1',
    at: `2025-01-01T00:00:${10 + i}.000Z`,
  }));
}

const planned: NewEvent = {
  type: 'run.planned',
  summary: 'two steps',
  tasks: [
    { id: 't1', title: 'Outline', description: 'outline it', dependencies: [], priority: 'high' },
    { id: 't2', title: 'Write', description: 'write it', dependencies: ['t1'], priority: 'medium' },
  ],
};

describe('applyEvent', () => {
  it('follows a task from plan to done, with attempts, usage, cost and counts', () => {
    const events = stream([
      planned,
      { type: 'run.status', status: 'executing' },
      { type: 'task.status', taskId: 't1', status: 'ready' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      { type: 'worker.output', taskId: 't1', worker: 0, text: 'partial' },
      { type: 'task.completed', taskId: 't1', attempt: 1, result: 'the outline', usage, costUsd: 0.25 },
      { type: 'task.status', taskId: 't1', status: 'reviewing' },
    ]);
    const view = events.reduce(applyEvent, emptyView());
    expect(view.status).toBe('executing');
    expect(view.taskTotal).toBe(2);
    expect(view.busyWorkers).toBe(1);
    expect(view.taskCounts).toEqual({ reviewing: 1, pending: 1 });
    const t1 = view.tasks[0]!;
    expect(t1.worker).toBe(0);
    expect(t1.result).toBe('the outline');
    expect(t1.attempts).toEqual([
      expect.objectContaining({
        n: 1,
        worker: 0,
        outcome: 'succeeded',
        output: 'the outline',
        costUsd: 0.25,
      }),
    ]);
    expect(view.usage.inputTokens).toBe(100);
    expect(view.costUsd).toBe(0.25);
    expect(view.lastEventId).toBe(7);

    const done = stream(
      [
        { type: 'task.reviewed', taskId: 't1', attempt: 1, review: { verdict: 'accept', feedback: 'good' } },
        { type: 'task.status', taskId: 't1', status: 'done' },
      ],
      8,
    ).reduce(applyEvent, view);
    expect(done.tasks[0]!.status).toBe('done');
    expect(done.tasks[0]!.finishedAt).toBe('2025-01-01T00:00:11.000Z');
    expect(done.tasks[0]!.attempts[0]!.review).toEqual({ verdict: 'accept', feedback: 'good' });
    expect(done.busyWorkers).toBe(0);
    expect(done.taskCounts).toEqual({ done: 1, pending: 1 });
  });

  it("takes the run's totals from events that carry them, and adds nothing twice", () => {
    const spent = (inputTokens: number, costUsd: number) => ({
      usage: { ...usage, inputTokens },
      costUsd,
    });
    const view = stream([
      { ...planned, spent: spent(500, 0.01) },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      {
        type: 'task.reviewed',
        taskId: 't1',
        attempt: 1,
        review: { verdict: 'accept', feedback: 'ok' },
        spent: spent(1_100, 0.05),
      },
      {
        type: 'task.completed',
        taskId: 't1',
        attempt: 1,
        result: 'r',
        usage,
        costUsd: 0.02,
        spent: spent(1_100, 0.05),
      },
    ]).reduce(applyEvent, emptyView());
    expect(view.costUsd).toBe(0.05);
    expect(view.usage.inputTokens).toBe(1_100);
  });

  it('ignores events it already reflects and events of other runs', () => {
    const view = applyEvents(emptyView(), stream([planned, { type: 'run.status', status: 'executing' }]));
    const replayed = applyEvent(view, { ...stream([{ type: 'run.status', status: 'failed' }], 2)[0]! });
    expect(replayed).toBe(view);
    const other = applyEvent(view, {
      ...stream([{ type: 'run.status', status: 'failed' }], 9)[0]!,
      runId: 'r2',
    });
    expect(other).toBe(view);
  });

  it('does not change the view it was given', () => {
    const view = applyEvents(emptyView(), stream([planned]));
    const frozen = structuredClone(view);
    applyEvents(
      view,
      stream(
        [
          { type: 'task.assigned', taskId: 't1', worker: 1, attempt: 1 },
          { type: 'run.paused', reason: 'user' },
        ],
        2,
      ),
    );
    expect(view).toEqual(frozen);
  });

  it('records failed attempts with their error category, rework and the task failure', () => {
    const view = applyEvents(
      emptyView(),
      stream([
        planned,
        { type: 'task.assigned', taskId: 't2', worker: 1, attempt: 1 },
        {
          type: 'task.attempt_failed',
          taskId: 't2',
          attempt: 1,
          error: { category: 'transient', message: '529 overloaded' },
          retryInMs: 1000,
        },
        { type: 'task.assigned', taskId: 't2', worker: 0, attempt: 2 },
        {
          type: 'task.reviewed',
          taskId: 't2',
          attempt: 2,
          review: { verdict: 'rework', feedback: 'too short' },
        },
        { type: 'task.failed', taskId: 't2', error: 'gave up after 3 reworks' },
      ]),
    );
    const t2 = view.tasks[1]!;
    expect(t2.status).toBe('failed');
    expect(t2.error).toBe('gave up after 3 reworks');
    expect(t2.reworks).toBe(1);
    expect(t2.attempts.map((a) => [a.n, a.worker, a.outcome, a.error?.category])).toEqual([
      [1, 1, 'failed', 'transient'],
      [2, 0, 'running', undefined],
    ]);
    expect(view.taskCounts).toEqual({ pending: 1, failed: 1 });
  });

  it('tracks pause, resume and the end of the run', () => {
    const paused = applyEvents(
      emptyView(),
      stream([
        { type: 'run.status', status: 'executing' },
        { type: 'run.paused', reason: 'budget' },
      ]),
    );
    expect([paused.status, paused.pauseReason]).toEqual(['paused', 'budget']);
    const resumed = applyEvents(paused, stream([{ type: 'run.resumed' }], 3));
    expect(resumed.status).toBe('executing');
    expect(resumed.pauseReason).toBeUndefined();
    const review = { verdict: 'success' as const, summary: 'all good', followUps: [] };
    const completed = applyEvents(resumed, stream([{ type: 'run.completed', review }], 4));
    expect(completed.status).toBe('completed');
    expect(completed.finalReview).toEqual(review);
    expect(completed.finishedAt).toBeDefined();
    const failed = applyEvents(resumed, stream([{ type: 'run.failed', error: 'planning failed' }], 4));
    expect([failed.status, failed.error]).toEqual(['failed', 'planning failed']);
  });

  it('puts a retried task back in the queue without its old error', () => {
    const failed = applyEvents(
      emptyView(),
      stream([
        planned,
        { type: 'task.status', taskId: 't1', status: 'failed', reason: 'permanent: bad request' },
      ]),
    );
    expect(failed.tasks[0]!.error).toBe('permanent: bad request');
    const retried = applyEvents(failed, stream([{ type: 'task.status', taskId: 't1', status: 'ready' }], 3));
    expect(retried.tasks[0]!.status).toBe('ready');
    expect(retried.tasks[0]!.error).toBeUndefined();
    expect(retried.tasks[0]!.finishedAt).toBeUndefined();
  });

  it('keeps a Claude Code attempt’s session and refusals, and a quota pause’s resume time until it resumes', () => {
    const refusal = {
      tool: 'Bash',
      subject: 'curl x',
      reason: 'needs approval',
      at: '2025-01-01T00:00:12.000Z',
    };
    let view = applyEvents(
      emptyView(),
      stream([
        planned,
        { type: 'run.status', status: 'executing' },
        { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
        { type: 'task.session', taskId: 't1', attempt: 1, sessionId: 's-1' },
        { type: 'task.tool_refused', taskId: 't1', attempt: 1, refusal },
        { type: 'run.paused', reason: 'quota', resumeAt: '2025-01-01T05:00:00.000Z' },
        { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 2 },
        { type: 'task.session', taskId: 't1', attempt: 2, sessionId: 's-1', resumes: 1 },
      ]),
    );
    const attempts = view.tasks[0]!.attempts;
    expect(attempts[0]).toMatchObject({ sessionId: 's-1', refusals: [refusal] });
    expect(attempts[1]).toMatchObject({ sessionId: 's-1', resumes: 1 });
    expect(view).toMatchObject({
      status: 'paused',
      pauseReason: 'quota',
      resumeAt: '2025-01-01T05:00:00.000Z',
    });
    view = applyEvents(view, stream([{ type: 'run.resumed' }], 9));
    expect(view.resumeAt).toBeUndefined();
    expect(view.pauseReason).toBeUndefined();
  });

  it('shows a change a person made at the source until the task is queued again', () => {
    const change = { status: 'deferred', expected: 'pending', action: 'not-started' as const, at: 'then' };
    const held = applyEvents(
      emptyView(),
      stream([
        planned,
        { type: 'task.source_changed', taskId: 't2', change },
        { type: 'task.status', taskId: 't2', status: 'blocked', reason: 'set to deferred' },
      ]),
    );
    expect(held.tasks[1]).toMatchObject({ status: 'blocked', sourceChange: change });
    const retried = applyEvents(held, stream([{ type: 'task.status', taskId: 't2', status: 'pending' }], 4));
    expect(retried.tasks[1]!.sourceChange).toBeUndefined();
  });
});

describe('a view holding a page of the tasks', () => {
  const held = (id: string, status: TaskStatus): TaskRecord => ({
    id,
    title: id,
    description: '',
    dependencies: [],
    priority: 'medium',
    status,
    attempts: [],
    reworks: 0,
  });
  // Three tasks, the view holds t1 only.
  const page = (): RunView => ({
    ...emptyView(),
    status: 'executing',
    taskTotal: 3,
    taskCounts: { ready: 2, pending: 1 },
    tasks: [held('t1', 'ready')],
  });

  it('keeps the counts from the moves of tasks it does not hold, and changes only the ones it holds', () => {
    const events = stream([
      { type: 'task.status', taskId: 't2', from: 'ready', status: 'running' },
      { type: 'task.status', taskId: 't1', from: 'ready', status: 'running' },
      { type: 'task.status', taskId: 't2', from: 'running', status: 'reviewing' },
      { type: 'task.status', taskId: 't3', from: 'pending', status: 'ready' },
      { type: 'task.completed', taskId: 't2', attempt: 1, result: 'two', usage, costUsd: 0.5 },
    ]);
    const view = applyEvents(page(), events);
    expect(view.taskCounts).toEqual({ ready: 1, running: 1, reviewing: 1 });
    expect(view.busyWorkers).toBe(2);
    expect(view.taskTotal).toBe(3);
    expect(view.tasks.map((t) => [t.id, t.status])).toEqual([['t1', 'running']]);
    expect(view.costUsd).toBe(0.5);
    // The view given is untouched.
    expect(page().taskCounts).toEqual({ ready: 2, pending: 1 });
  });

  it('asks to be fetched again after a new plan, a restart or a rollback', () => {
    const [planned_, restored, rolledBack, status] = stream([
      planned,
      { type: 'run.restored', interruptedTasks: ['t2'] },
      { type: 'run.rolled_back', checkpointId: 'cp1', strategy: 'full', resetTasks: [] },
      { type: 'task.status', taskId: 't2', from: 'ready', status: 'running' },
    ]);
    expect([planned_, restored, rolledBack, status].map((e) => wantsFreshView(page(), e!))).toEqual([
      true,
      true,
      true,
      false,
    ]);
    // A view that holds every task folds a plan and a restart itself; a rollback still asks.
    expect(wantsFreshView(emptyView(), planned_!)).toBe(false);
    expect(wantsFreshView(emptyView(), restored!)).toBe(false);
    expect(wantsFreshView(emptyView(), rolledBack!)).toBe(true);
  });
});
