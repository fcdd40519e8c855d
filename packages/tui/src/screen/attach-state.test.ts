import type { OrcEvent, RunView, TaskRecord, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { AttachState } from './attach-state.js';

const at = '2025-01-01T00:01:00.000Z';

function task(id: string, status: TaskStatus = 'pending'): TaskRecord {
  return {
    id,
    title: `Task ${id}`,
    description: '',
    dependencies: [],
    priority: 'medium',
    status,
    attempts: [],
    reworks: 0,
  };
}

function view(tasks: TaskRecord[], over: Partial<RunView> = {}): RunView {
  const taskCounts: Partial<Record<TaskStatus, number>> = {};
  for (const t of tasks) taskCounts[t.status] = (taskCounts[t.status] ?? 0) + 1;
  return {
    id: 'r-42',
    goal: 'Test',
    status: 'executing',
    models: {
      manager: { provider: 'simulated', model: 'opus' },
      worker: { provider: 'simulated', model: 'sonnet' },
      simulated: true,
    },
    maxWorkers: 2,
    createdAt: at,
    updatedAt: at,
    taskCounts,
    taskTotal: tasks.length,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
    costUsd: 0,
    lastEventId: 0,
    tasks,
    busyWorkers: 0,
    ...over,
  };
}

const moved = (
  id: number,
  taskId: string,
  from: TaskStatus,
  status: TaskStatus,
  worker?: number,
): OrcEvent => ({
  id,
  runId: 'r-42',
  at,
  type: 'task.status',
  taskId,
  from,
  status,
  ...(worker !== undefined && { worker }),
});

describe('the event pane', () => {
  it('tells a task restored by a rollback once queued and once in review: no repeated move', () => {
    const state = new AttachState();
    state.reset(view([task('c', 'reviewing')], { lastEventId: 21 }));
    state.pushBatch([
      // The rollback takes c from its reviewer, replaces its record (pending), and queues it again.
      moved(22, 'c', 'reviewing', 'ready'),
      {
        id: 23,
        runId: 'r-42',
        at,
        type: 'run.rolled_back',
        checkpointId: 'cp2',
        strategy: 'full',
        resetTasks: [],
        tasks: [task('c', 'pending')],
      },
      moved(24, 'c', 'pending', 'ready'),
      // The run resumed: a worker takes its kept answer to review, with no new attempt.
      moved(28, 'c', 'ready', 'reviewing', 1),
    ]);
    state.flush();
    expect(state.lines.map((l) => l.text)).toEqual([
      'c ready',
      'rolled back to cp2 (full); 0 tasks reset',
      'c reviewing: its answer from before goes to review (w1)',
    ]);
    expect(state.view!.tasks[0]!.status).toBe('reviewing');
  });

  it('tells one line per thing: a dispatch, a task done with its review and cost, a run ended', () => {
    const state = new AttachState();
    state.reset(view([task('a')], { lastEventId: 2 }));
    const usage = { inputTokens: 90, outputTokens: 64, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const review = { verdict: 'accept' as const, feedback: 'Covers the task.' };
    type Body<E = OrcEvent> = E extends OrcEvent ? Omit<E, 'id' | 'runId' | 'at'> : never;
    const stamp = (events: Body[]): OrcEvent[] =>
      events.map((e, i) => ({ ...e, id: 3 + i, runId: 'r-42', at }));
    state.pushBatch(
      stamp([
        { type: 'task.status', taskId: 'a', from: 'pending', status: 'ready' },
        { type: 'task.status', taskId: 'a', from: 'ready', status: 'running' },
        { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 },
        { type: 'task.status', taskId: 'a', from: 'running', status: 'reviewing' },
        { type: 'task.reviewed', taskId: 'a', attempt: 1, review, charge: { usage, costUsd: 0.0004 } },
        { type: 'task.completed', taskId: 'a', attempt: 1, usage, costUsd: 0.0013 },
        { type: 'task.status', taskId: 'a', from: 'reviewing', status: 'done' },
        { type: 'run.status', status: 'completed' },
        { type: 'run.completed', review: { verdict: 'success', summary: 'All done.', followUps: [] } },
      ]),
    );
    state.flush();
    expect(state.lines.map((l) => l.text)).toEqual([
      'a → w0 (attempt 1)',
      'a reviewing',
      'a done (attempt 1 accepted, 90 in / 64 out, $0.0013): Covers the task.',
      'run completed (success): All done.',
    ]);
  });
});

describe('attaching', () => {
  it('follows a run new to the screen from a bounded number of events back, and tells them once', () => {
    const state = new AttachState();
    state.reset(view([task('a', 'done')], { status: 'paused', pauseReason: 'user', lastEventId: 1000 }));
    expect(state.followFrom()).toBe(800);
    // The stream replays from there: those events give lines, and the view (which has them) is unchanged.
    state.pushBatch([
      moved(999, 'a', 'reviewing', 'done'),
      { id: 1000, runId: 'r-42', at, type: 'run.paused', reason: 'user' },
    ]);
    expect(state.flush()).toBe(true);
    expect(state.lines.map((l) => l.text)).toEqual(['a done', 'paused (user)']);
    expect(state.view!.lastEventId).toBe(1000);
    // Live events after them fold in as always; a replayed one again is not told twice.
    state.pushBatch([
      { id: 1000, runId: 'r-42', at, type: 'run.paused', reason: 'user' },
      { id: 1001, runId: 'r-42', at, type: 'run.resumed' },
    ]);
    state.flush();
    expect(state.lines.map((l) => l.text)).toEqual(['a done', 'paused (user)', 'resumed']);
    // Back after a lost connection, the same run: the pane has its lines, the stream goes on from the view.
    state.reset(view([task('a', 'done')], { lastEventId: 1001 }));
    expect(state.followFrom()).toBe(1001);
  });

  it('tells what happened while the link was down (a restart restored the run and dispatched again) once back', () => {
    const state = new AttachState();
    state.reset(view([task('t6')], { lastEventId: 0 }));
    state.pushBatch([moved(1, 't6', 'pending', 'ready'), moved(2, 't6', 'ready', 'running', 1)]);
    state.pushBatch([
      { id: 3, runId: 'r-42', at, type: 'task.assigned', taskId: 't6', worker: 1, attempt: 1 },
    ]);
    state.flush();
    expect(state.lines.map((l) => l.text)).toEqual(['t6 → w1 (attempt 1)']);
    // The daemon was killed and started again: its restore and re-dispatch came before the screen was back.
    const later = new Date(Date.parse(at) + 9_000).toISOString();
    state.reset(view([task('t6', 'running')], { lastEventId: 7 }));
    expect(state.followFrom()).toBe(3);
    state.pushBatch([
      { id: 4, runId: 'r-42', at: later, type: 'run.restored', interruptedTasks: ['t2', 't5', 't6'] },
      { ...moved(5, 't6', 'running', 'ready'), at: later },
      { ...moved(6, 't6', 'ready', 'running', 2), at: later },
      { id: 7, runId: 'r-42', at: later, type: 'task.assigned', taskId: 't6', worker: 2, attempt: 2 },
    ]);
    expect(state.flush()).toBe(true);
    expect(state.lines.map((l) => l.text)).toEqual([
      't6 → w1 (attempt 1)',
      'restored after a daemon restart; interrupted, and run again: t2, t5, t6',
      't6 → w2 (attempt 2)',
    ]);
    expect(state.view!.lastEventId).toBe(7);
    // Back with nothing missed: the stream goes on from the view.
    state.reset(view([task('t6', 'running')], { lastEventId: 7 }));
    expect(state.followFrom()).toBe(7);
  });

  it('starts at the first event of a young run; after the plan of a large one waiting for approval', () => {
    const state = new AttachState();
    state.reset(view([task('a')], { lastEventId: 3 }));
    expect(state.followFrom()).toBe(0);
    const other = new AttachState();
    other.reset(view([task('a')], { status: 'awaiting_approval', taskTotal: 100_000, lastEventId: 3 }));
    expect(other.followFrom()).toBe(3);
    // A damaged run's journal has a hole a replay stops at: it is followed from its view.
    const damaged = new AttachState();
    damaged.reset(view([task('a')], { status: 'damaged', lastEventId: 300 }));
    expect(damaged.followFrom()).toBe(300);
  });
});

describe('the task filter', () => {
  it('shows a small run the tasks of a status, or matching a search, live as they move', () => {
    const state = new AttachState();
    state.reset(view([task('a', 'failed'), task('b', 'done'), task('auth', 'failed')], { lastEventId: 5 }));
    state.filter.nextStatus(); // failed
    state.filterChanged();
    expect(state.visibleTasks(10).tasks.map((t) => t?.id)).toEqual(['a', 'auth']);
    expect(state.matchCount()).toEqual({ shown: 2, of: 3 });
    expect(state.filter.describe()).toBe('failed');
    state.filter.search('AU');
    state.filterChanged();
    expect(state.visibleTasks(10).tasks.map((t) => t?.id)).toEqual(['auth']);
    expect(state.filter.describe()).toBe('failed · "AU"');
    // Retried: it leaves the failed tasks.
    state.pushBatch([moved(6, 'auth', 'failed', 'ready')]);
    state.flush();
    expect(state.total).toBe(0);
    state.filter.clear();
    state.filterChanged();
    expect(state.matchCount()).toBeUndefined();
    expect(state.total).toBe(3);
  });

  it('asks the daemon for a window of the matching rows of a large run, and again once it moved', () => {
    const state = new AttachState();
    const tasks = Array.from({ length: 20 }, (_, i) => task(`t${i + 1}`));
    state.reset(
      view(tasks, { taskTotal: 100_000, taskCounts: { pending: 99_990, failed: 10 }, lastEventId: 7 }),
    );
    state.filter.nextStatus();
    state.filterChanged();
    // Nothing is known of the failed tasks yet: a window of them is asked for, with the filter.
    expect(state.visibleTasks(10).tasks).toEqual([]);
    const want = state.wantedRows()!;
    expect(want.query).toEqual({ status: ['failed'] });
    expect(want.window.offset).toBe(0);
    expect(state.matchCount()).toEqual({ shown: undefined, of: 100_000 });
    const failed = Array.from({ length: 10 }, (_, i) => task(`f${i + 1}`, 'failed'));
    state.takeRows({ runId: 'r-42', lastEventId: 7, offset: 0, total: 10, tasks: failed }, want.query);
    expect(state.visibleTasks(10).tasks.map((t) => t?.id)).toEqual(failed.map((t) => t.id));
    expect(state.wantedRows()).toBeUndefined();
    expect(state.matchCount()).toEqual({ shown: 10, of: 100_000 });
    // A page asked with another filter is not the table's.
    state.takeRows({ runId: 'r-42', lastEventId: 7, offset: 0, total: 3, tasks: [] }, { status: ['done'] });
    expect(state.total).toBe(10);
    // The run moves: the window is asked for again (not at once: once a second at most).
    state.pushBatch([moved(8, 'f1', 'failed', 'ready')]);
    state.flush();
    state.visibleTasks(10);
    expect(state.wantedRows()).toBeUndefined();
    state.visibleTasks(10, Date.now() + 1000);
    expect(state.wantedRows()?.query).toEqual({ status: ['failed'] });
  });
});
