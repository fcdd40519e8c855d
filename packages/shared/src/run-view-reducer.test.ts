import { describe, expect, it } from 'vitest';
import type { NewEvent, OrcEvent } from './events.js';
import type { RunView } from './run.js';
import { applyEvent, applyEvents, foldView, wantsFreshView } from './run-view-reducer.js';
import { type TaskRecord, type TaskStatus, ZERO_USAGE } from './task.js';

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
  it('follows a task from plan to done, as the daemon tells it', () => {
    const events = stream([
      planned,
      { type: 'run.status', status: 'executing' },
      { type: 'task.status', taskId: 't1', status: 'ready' },
      { type: 'task.status', taskId: 't1', status: 'running' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      { type: 'worker.output', taskId: 't1', worker: 0, text: 'partial' },
      {
        type: 'task.attempt_ended',
        taskId: 't1',
        attempt: 1,
        outcome: 'succeeded',
        usage,
        costUsd: 0.25,
        output: 'the outline',
        spent: { usage, costUsd: 0.25 },
      },
      { type: 'task.status', taskId: 't1', status: 'reviewing' },
    ]);
    const view = events.reduce(applyEvent, emptyView());
    expect(view.status).toBe('executing');
    expect(view.taskTotal).toBe(2);
    expect(view.busyWorkers).toBe(1);
    expect(view.taskCounts).toEqual({ reviewing: 1, pending: 1 });
    const t1 = view.tasks[0]!;
    expect(t1).toMatchObject({
      worker: 0,
      readyAt: '2025-01-01T00:00:12.000Z',
      startedAt: '2025-01-01T00:00:13.000Z',
    });
    expect(t1.attempts).toEqual([
      {
        n: 1,
        worker: 0,
        startedAt: '2025-01-01T00:00:14.000Z',
        endedAt: '2025-01-01T00:00:16.000Z',
        outcome: 'succeeded',
        output: 'the outline',
        usage,
        costUsd: 0.25,
      },
    ]);
    expect(view.usage.inputTokens).toBe(100);
    expect(view.costUsd).toBe(0.25);
    expect(view.lastEventId).toBe(8);

    const done = stream(
      [
        { type: 'task.reviewed', taskId: 't1', attempt: 1, review: { verdict: 'accept', feedback: 'good' } },
        { type: 'task.completed', taskId: 't1', attempt: 1, result: 'the outline', usage, costUsd: 0.25 },
        { type: 'task.status', taskId: 't1', status: 'done' },
      ],
      9,
    ).reduce(applyEvent, view);
    const t1Done = done.tasks[0]!;
    expect(t1Done).toMatchObject({
      status: 'done',
      result: 'the outline',
      finishedAt: '2025-01-01T00:00:12.000Z',
    });
    expect(t1Done.worker).toBeUndefined();
    // The accepted output is the result; the attempt does not keep it twice.
    expect(t1Done.attempts[0]).toMatchObject({
      review: { verdict: 'accept', feedback: 'good' },
      output: undefined,
    });
    expect(done.busyWorkers).toBe(0);
    expect(done.taskCounts).toEqual({ done: 1, pending: 1 });
  });

  it('gives a completed task the answer its task.worked told as its result, when the completion does not tell one', () => {
    const worked = stream([
      planned,
      { type: 'task.status', taskId: 't1', status: 'ready' },
      { type: 'task.status', taskId: 't1', status: 'running' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      {
        type: 'task.worked',
        taskId: 't1',
        attempt: 1,
        output: 'the outline',
        streamed: 0,
        usage,
        costUsd: 0.25,
      },
      { type: 'task.status', taskId: 't1', status: 'reviewing' },
      { type: 'task.reviewed', taskId: 't1', attempt: 1, review: { verdict: 'accept', feedback: 'good' } },
      { type: 'task.completed', taskId: 't1', attempt: 1, usage, costUsd: 0.25 },
      { type: 'task.status', taskId: 't1', status: 'done' },
    ]).reduce(applyEvent, emptyView());
    expect(worked.tasks[0]).toMatchObject({ status: 'done', result: 'the outline' });
    expect(worked.tasks[0]!.attempts[0]!.output).toBeUndefined();
  });

  it("adds a review's charge to its attempt whether the journal tells it in task.reviewed or, older, in task.review_charged", () => {
    const charge = { usage: { ...usage, inputTokens: 30 }, costUsd: 0.1 };
    const review = { verdict: 'rework' as const, feedback: 'more' };
    const worked = stream([
      planned,
      { type: 'task.status', taskId: 't1', status: 'ready' },
      { type: 'task.status', taskId: 't1', status: 'running' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      { type: 'task.worked', taskId: 't1', attempt: 1, output: 'draft', usage, costUsd: 0.25 },
      { type: 'task.status', taskId: 't1', status: 'reviewing' },
    ]).reduce(applyEvent, emptyView());
    const now = stream([{ type: 'task.reviewed', taskId: 't1', attempt: 1, review, charge }], 7).reduce(
      applyEvent,
      worked,
    );
    const before = stream(
      [
        { type: 'task.review_charged', taskId: 't1', attempt: 1, ...charge },
        { type: 'task.reviewed', taskId: 't1', attempt: 1, review },
      ],
      7,
    ).reduce(applyEvent, worked);
    const attempt = { review, costUsd: 0.35, usage: { ...usage, inputTokens: 130, outputTokens: 80 } };
    expect(now.tasks[0]!.attempts[0]).toMatchObject(attempt);
    expect(before.tasks[0]!.attempts[0]).toEqual(now.tasks[0]!.attempts[0]);
  });

  it("takes the run's totals from the events that carry them, and adds nothing itself", () => {
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
      { type: 'task.completed', taskId: 't1', attempt: 1, result: 'r', usage, costUsd: 0.02 },
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

  it('records a failed attempt, a rework with its feedback, and the task failure past the bound', () => {
    const view = applyEvents(
      emptyView(),
      stream([
        planned,
        { type: 'task.status', taskId: 't2', status: 'ready' },
        { type: 'task.status', taskId: 't2', status: 'running' },
        { type: 'task.assigned', taskId: 't2', worker: 1, attempt: 1 },
        {
          type: 'task.attempt_ended',
          taskId: 't2',
          attempt: 1,
          outcome: 'failed',
          usage: ZERO_USAGE,
          costUsd: 0,
          error: { category: 'transient', message: '529 overloaded' },
        },
        {
          type: 'task.attempt_failed',
          taskId: 't2',
          attempt: 1,
          error: { category: 'transient', message: '529 overloaded' },
          retryInMs: 1000,
        },
        { type: 'task.assigned', taskId: 't2', worker: 1, attempt: 2 },
        {
          type: 'task.attempt_ended',
          taskId: 't2',
          attempt: 2,
          outcome: 'succeeded',
          usage,
          costUsd: 0.1,
          output: 'short',
        },
        { type: 'task.status', taskId: 't2', status: 'reviewing' },
        {
          type: 'task.reviewed',
          taskId: 't2',
          attempt: 2,
          review: { verdict: 'rework', feedback: 'too short' },
        },
        {
          type: 'task.status',
          taskId: 't2',
          status: 'ready',
          reason: 'rework: too short',
          feedback: 'too short',
        },
        { type: 'task.status', taskId: 't2', status: 'running' },
        { type: 'task.assigned', taskId: 't2', worker: 0, attempt: 3 },
        {
          type: 'task.attempt_ended',
          taskId: 't2',
          attempt: 3,
          outcome: 'succeeded',
          usage,
          costUsd: 0.1,
          output: 'still short',
        },
        { type: 'task.status', taskId: 't2', status: 'reviewing' },
        { type: 'task.reviewed', taskId: 't2', attempt: 3, review: { verdict: 'rework', feedback: 'no' } },
        { type: 'task.failed', taskId: 't2', error: 'still not accepted after 1 rework: no' },
        {
          type: 'task.status',
          taskId: 't2',
          status: 'failed',
          reason: 'still not accepted after 1 rework: no',
        },
      ]),
    );
    const t2 = view.tasks[1]!;
    expect(t2).toMatchObject({
      status: 'failed',
      error: 'still not accepted after 1 rework: no',
      reworks: 1,
      feedback: 'too short',
      worker: undefined,
    });
    expect(t2.attempts.map((a) => [a.n, a.worker, a.outcome, a.error?.category, a.review?.verdict])).toEqual([
      [1, 1, 'failed', 'transient', undefined],
      [2, 1, 'succeeded', undefined, 'rework'],
      [3, 0, 'succeeded', undefined, 'rework'],
    ]);
    expect(view.taskCounts).toEqual({ pending: 1, failed: 1 });
  });

  it('tracks pause, resume and the end of the run', () => {
    const paused = applyEvents(
      emptyView(),
      stream([
        { type: 'run.status', status: 'executing' },
        { type: 'run.paused', reason: 'budget' },
        { type: 'run.status', status: 'paused' },
      ]),
    );
    expect([paused.status, paused.pauseReason]).toEqual(['paused', 'budget']);
    const resumed = applyEvents(
      paused,
      stream([{ type: 'run.status', status: 'executing' }, { type: 'run.resumed' }], 4),
    );
    expect(resumed.status).toBe('executing');
    expect(resumed.pauseReason).toBeUndefined();
    const review = { verdict: 'success' as const, summary: 'all good', followUps: [] };
    const completed = applyEvents(
      resumed,
      stream(
        [
          { type: 'run.status', status: 'completed' },
          { type: 'run.completed', review },
        ],
        6,
      ),
    );
    expect(completed).toMatchObject({
      status: 'completed',
      finalReview: review,
      finishedAt: '2025-01-01T00:00:11.000Z',
    });
    const failed = applyEvents(resumed, stream([{ type: 'run.failed', error: 'planning failed' }], 6));
    expect([failed.status, failed.error]).toEqual(['failed', 'planning failed']);
    // Reopened by a retry: how it ended no longer holds.
    const reopened = applyEvents(completed, stream([{ type: 'run.status', status: 'executing' }], 8));
    expect(reopened.finishedAt).toBeUndefined();
    expect(reopened.finalReview).toBeUndefined();
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
    const retried = applyEvents(
      failed,
      stream(
        [
          { type: 'task.status', taskId: 't1', status: 'pending' },
          { type: 'task.status', taskId: 't1', status: 'ready' },
        ],
        3,
      ),
    );
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
    view = applyEvents(
      view,
      stream([{ type: 'run.status', status: 'executing' }, { type: 'run.resumed' }], 9),
    );
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
        { type: 'task.status', taskId: 't2', status: 'blocked', reason: 'set to deferred', held: true },
      ]),
    );
    expect(held.tasks[1]).toMatchObject({ status: 'blocked', sourceChange: change, held: 'set to deferred' });
    const retried = applyEvents(held, stream([{ type: 'task.status', taskId: 't2', status: 'pending' }], 4));
    expect(retried.tasks[1]!.sourceChange).toBeUndefined();
    expect(retried.tasks[1]!.held).toBeUndefined();
  });

  it('replaces the records a rollback carries; an older rollback without them asks for a refetch', () => {
    const view = applyEvents(
      emptyView(),
      stream([planned, { type: 'task.status', taskId: 't1', status: 'failed', reason: 'no' }]),
    );
    const restored = {
      ...view.tasks[0]!,
      status: 'pending' as const,
      error: undefined,
      finishedAt: undefined,
    };
    const rolled = foldView(
      view,
      stream(
        [
          {
            type: 'run.rolled_back',
            checkpointId: 'cp1',
            strategy: 'full',
            resetTasks: ['t1'],
            tasks: [restored],
          },
        ],
        3,
      ),
    );
    expect(rolled.incomplete).toBe(false);
    expect(rolled.view.tasks[0]).toEqual(restored);
    const older = foldView(
      view,
      stream([{ type: 'run.rolled_back', checkpointId: 'cp1', strategy: 'full', resetTasks: ['t1'] }], 3),
    );
    expect(older.incomplete).toBe(true);
    expect(older.view.tasks[0]!.status).toBe('pending');
  });

  it('ends an attempt a daemon stop cut off when the daemon was last known alive, not at the restart', () => {
    const events = stream([
      planned,
      { type: 'run.status', status: 'executing' },
      { type: 'task.status', taskId: 't1', status: 'ready' },
      { type: 'task.status', taskId: 't1', status: 'running' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      { type: 'run.restored', interruptedTasks: ['t1'], lastAliveAt: '2025-01-01T00:00:14.000Z' },
    ]);
    // The restart came a minute after the daemon's last event.
    events.at(-1)!.at = '2025-01-01T00:01:15.000Z';
    const t1 = events.reduce(applyEvent, emptyView()).tasks[0]!;
    expect(t1.status).toBe('ready');
    expect(t1.attempts[0]).toMatchObject({ outcome: 'interrupted', endedAt: '2025-01-01T00:00:14.000Z' });
    // An older journal, without the field: at the restart.
    const older = events.map((e) => (e.type === 'run.restored' ? { ...e, lastAliveAt: undefined } : e));
    expect(older.reduce(applyEvent, emptyView()).tasks[0]!.attempts[0]!.endedAt).toBe(
      '2025-01-01T00:01:15.000Z',
    );
  });

  it('keeps an answer journalled for its review (task.worked), reviewed after a restart by the worker told', () => {
    const view = stream([
      planned,
      { type: 'run.status', status: 'executing' },
      { type: 'task.status', taskId: 't1', status: 'ready' },
      { type: 'task.status', taskId: 't1', status: 'running' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      {
        type: 'task.worked',
        taskId: 't1',
        attempt: 1,
        output: 'the outline',
        diff: '+ outline',
        usage,
        costUsd: 0.25,
      },
      { type: 'task.status', taskId: 't1', status: 'reviewing' },
      // The daemon died here and came back: the task waits again, and a worker takes it to its review.
      { type: 'run.restored', interruptedTasks: ['t1'] },
      { type: 'task.status', taskId: 't1', status: 'reviewing', worker: 1 },
    ]).reduce(applyEvent, emptyView());
    const t1 = view.tasks[0]!;
    expect(t1).toMatchObject({ status: 'reviewing', worker: 1 });
    expect(t1.attempts).toEqual([
      {
        n: 1,
        worker: 0,
        startedAt: '2025-01-01T00:00:14.000Z',
        endedAt: '2025-01-01T00:00:15.000Z',
        outcome: 'succeeded',
        output: 'the outline',
        diff: '+ outline',
        usage,
        costUsd: 0.25,
      },
    ]);
    // Accepted: the answer is the result, and neither it nor its diff stays on the attempt.
    const done = stream(
      [
        { type: 'task.reviewed', taskId: 't1', attempt: 1, review: { verdict: 'accept', feedback: 'good' } },
        { type: 'task.completed', taskId: 't1', attempt: 1, result: 'the outline', usage, costUsd: 0.25 },
      ],
      10,
    ).reduce(applyEvent, view);
    // Done with its completion, even without the task.status that follows it.
    expect(done.tasks[0]).toMatchObject({ status: 'done', result: 'the outline', worker: undefined });
    expect(done.tasks[0]!.attempts[0]).toMatchObject({ output: undefined, diff: undefined });
  });

  it('drops the answer of a task sent back by a merge conflict: it is worked again', () => {
    const view = stream([
      planned,
      { type: 'task.status', taskId: 't1', status: 'running' },
      { type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      { type: 'task.worked', taskId: 't1', attempt: 1, output: 'x', diff: '+x', usage, costUsd: 0.1 },
      { type: 'task.status', taskId: 't1', status: 'reviewing' },
      { type: 'task.status', taskId: 't1', status: 'merging' },
      { type: 'task.status', taskId: 't1', status: 'ready', feedback: 'conflicts in a.txt' },
    ]).reduce(applyEvent, emptyView());
    expect(view.tasks[0]).toMatchObject({ status: 'ready', reworks: 1, feedback: 'conflicts in a.txt' });
    expect(view.tasks[0]!.attempts[0]).toMatchObject({
      outcome: 'succeeded',
      output: undefined,
      diff: undefined,
    });
  });

  it('shows a rollback begun as a pause that says so, then where it went or that it failed', () => {
    const paused = stream([
      planned,
      { type: 'run.status', status: 'completed' },
      { type: 'run.rollback_started', checkpointId: 'cp2', strategy: 'full' },
    ]).reduce(applyEvent, { ...emptyView(), finishedAt: '2025-01-01T00:00:01.000Z' });
    expect(paused).toMatchObject({
      status: 'paused',
      pauseReason: 'rollback',
      pauseMessage: 'rolling back to cp2',
    });
    expect(paused.finishedAt).toBeUndefined();
    const failed = stream(
      [{ type: 'run.rollback_failed', checkpointId: 'cp2', error: 'conflicts' }],
      4,
    ).reduce(applyEvent, paused);
    expect(failed).toMatchObject({
      status: 'paused',
      pauseReason: 'rollback',
      pauseMessage: 'the rollback to cp2 failed and changed nothing; orc resume goes on as it was',
    });
    const done = stream(
      [{ type: 'run.rolled_back', checkpointId: 'cp2', strategy: 'full', resetTasks: [], tasks: [] }],
      4,
    ).reduce(applyEvent, paused);
    expect(done.pauseMessage).toBe('rolled back to cp2; orc resume goes on');
    // A pause tells its message; the run going on drops it.
    const storage = stream(
      [
        { type: 'run.paused', reason: 'storage', message: 'the disk is full' },
        { type: 'run.status', status: 'executing' },
      ],
      5,
    );
    expect(applyEvent(done, storage[0]!)).toMatchObject({
      pauseReason: 'storage',
      pauseMessage: 'the disk is full',
    });
    expect(storage.reduce(applyEvent, done).pauseMessage).toBeUndefined();
  });

  it("keeps people's ratings in order, whatever the tasks do after them", () => {
    const first = { taskId: 't1', score: 2, comment: 'too short', at: 'then' };
    const second = { score: 5, at: 'later' };
    const view = applyEvents(
      emptyView(),
      stream([
        planned,
        { type: 'feedback.rated', rating: first },
        { type: 'task.status', taskId: 't1', status: 'pending' },
        { type: 'feedback.rated', rating: second },
      ]),
    );
    expect(view.ratings).toEqual([first, second]);
    expect(emptyView().ratings).toBeUndefined();
  });

  it('shows what the merge train verifies, then its last verdict', () => {
    const verifying = applyEvents(
      emptyView(),
      stream([{ type: 'train.verifying', taskIds: ['t1', 't2'], commit: 'abc' }]),
    );
    expect(verifying.train).toEqual({
      verifying: { taskIds: ['t1', 't2'], commit: 'abc', since: '2025-01-01T00:00:10.000Z' },
    });
    const verdict = applyEvents(
      verifying,
      stream(
        [
          {
            type: 'train.verified',
            taskIds: ['t1', 't2'],
            commit: 'abc',
            passed: false,
            exitCode: 1,
            timedOut: false,
            durationMs: 1200,
            reason: 'exited 1: 2 failing',
          },
        ],
        2,
      ),
    );
    expect(verdict.train).toEqual({
      last: {
        taskIds: ['t1', 't2'],
        commit: 'abc',
        passed: false,
        at: '2025-01-01T00:00:10.000Z',
        reason: 'exited 1: 2 failing',
      },
    });
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
      {
        type: 'task.completed',
        taskId: 't2',
        attempt: 1,
        result: 'two',
        usage,
        costUsd: 0.5,
        spent: { usage, costUsd: 0.5 },
      },
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
    // A view that holds every task folds a plan and a restart itself; a rollback without its records asks.
    expect(wantsFreshView(emptyView(), planned_!)).toBe(false);
    expect(wantsFreshView(emptyView(), restored!)).toBe(false);
    expect(wantsFreshView(emptyView(), rolledBack!)).toBe(true);
    const carried = { ...rolledBack!, tasks: [held('t1', 'pending')], allTasks: true } as OrcEvent;
    expect(wantsFreshView(emptyView(), carried)).toBe(false);
    expect(wantsFreshView(page(), carried)).toBe(true);
  });

  it('keeps its page through a plan and a rollback of every task, and says it is short of the run', () => {
    const [planned_, rolledBack] = stream([
      planned,
      {
        type: 'run.rolled_back',
        checkpointId: 'cp1',
        strategy: 'full',
        resetTasks: ['t1'],
        tasks: [held('t1', 'pending'), held('t2', 'pending'), held('t3', 'pending')],
        allTasks: true,
      },
    ]);
    const afterPlan = foldView(page(), [planned_!]);
    expect(afterPlan.incomplete).toBe(true);
    expect(afterPlan.view.planSummary).toBe('two steps');
    expect(afterPlan.view.tasks.map((t) => t.id)).toEqual(['t1']);
    expect(afterPlan.view.taskTotal).toBe(3);
    const afterRollback = foldView(page(), [rolledBack!]);
    expect(afterRollback.incomplete).toBe(true);
    expect(afterRollback.view.tasks.map((t) => [t.id, t.status])).toEqual([['t1', 'pending']]);
  });
});
