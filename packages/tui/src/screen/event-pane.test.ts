import type { OrcEvent, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { EventPane } from './event-pane.js';

type Body<E = OrcEvent> = E extends OrcEvent ? Omit<E, 'id' | 'runId' | 'at'> : never;

/** Events as the daemon journals them, one id after the other, `ms` after the first. */
function journal(...bodies: [number, Body][]): OrcEvent[] {
  return bodies.map(([ms, body], i) => ({
    id: i + 1,
    runId: 'r1',
    at: new Date(Date.UTC(2026, 11, 1, 2, 0, 0, ms)).toISOString(),
    ...body,
  }));
}

const status = (taskId: string, from: TaskStatus, to: TaskStatus, reason?: string): Body => ({
  type: 'task.status',
  taskId,
  from,
  status: to,
  ...(reason !== undefined && { reason }),
});
const usage = { inputTokens: 90, outputTokens: 64, cacheReadTokens: 183, cacheWriteTokens: 0 };

const told = (events: OrcEvent[]) => {
  const pane = new EventPane();
  pane.tell(events);
  return pane.lines.map((line) => line.text);
};

describe('the event pane', () => {
  it('tells a task dispatched, reviewed and done in three lines, with its worker, attempt and cost', () => {
    // The events of a simulated run's task, as journalled.
    const events = journal(
      [0, status('a', 'pending', 'ready')],
      [1, { type: 'run.status', status: 'executing' }],
      [1, status('a', 'ready', 'running')],
      [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
      [17, { type: 'task.worked', taskId: 'a', attempt: 1, output: 'Done.', usage, costUsd: 0.0008 }],
      [17, status('a', 'running', 'reviewing')],
      [
        18,
        {
          type: 'task.reviewed',
          taskId: 'a',
          attempt: 1,
          review: { verdict: 'accept', feedback: 'The result covers the task.' },
          charge: { usage, costUsd: 0.0004 },
        },
      ],
      [18, { type: 'task.completed', taskId: 'a', attempt: 1, usage, costUsd: 0.0012364 }],
      [18, status('a', 'reviewing', 'done')],
    );
    expect(told(events)).toEqual([
      'run is executing',
      'a → w0 (attempt 1)',
      'a reviewing',
      'a done (attempt 1 accepted, 90 in / 64 out, $0.0012): The result covers the task.',
    ]);
  });

  it('keeps a task queued long before its dispatch as a line of its own, and a done without a review', () => {
    const events = journal(
      [0, status('a', 'pending', 'ready')],
      [0, status('b', 'pending', 'ready')],
      [0, status('a', 'ready', 'running')],
      [0, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 1 }],
      [5000, status('a', 'running', 'merging')],
      [5100, { type: 'task.completed', taskId: 'a', attempt: 1, usage, costUsd: 0.0012 }],
      [5100, status('a', 'merging', 'done')],
      [5200, status('b', 'ready', 'running')],
      [5200, { type: 'task.assigned', taskId: 'b', worker: 0, attempt: 1 }],
    );
    expect(told(events)).toEqual([
      'b ready',
      'a → w0 (attempt 1)',
      'a merging',
      'a done (attempt 1, 90 in / 64 out, $0.0012)',
      'b → w0 (attempt 1)',
    ]);
  });

  it('tells a failed task once, with the attempt that gave up and its kind, and a run that ended once', () => {
    const message = 'task a would pass the cost cap of a task ($0.0005)';
    const events = journal(
      [0, status('a', 'running', 'reviewing')],
      [
        1,
        {
          type: 'task.attempt_failed',
          taskId: 'a',
          attempt: 1,
          error: { category: 'permanent', message },
        },
      ],
      [1, { type: 'task.failed', taskId: 'a', error: `permanent error: ${message}` }],
      [1, status('a', 'reviewing', 'failed', `permanent error: ${message}`)],
      [2, { type: 'task.failed', taskId: 'b', error: 'could not merge: conflict in README.md' }],
      [2, status('b', 'merging', 'failed', 'could not merge: conflict in README.md')],
      [3, { type: 'run.status', status: 'reviewing' }],
      [4, { type: 'run.status', status: 'failed' }],
      [4, { type: 'run.failed', error: 'a failed' }],
    );
    const pane = new EventPane();
    pane.tell(events);
    expect(pane.lines.map((line) => line.text)).toEqual([
      'a reviewing',
      `a failed at attempt 1: ${message}`,
      'b failed: could not merge: conflict in README.md',
      'run is reviewing',
      'run failed: a failed',
    ]);
    expect(pane.lines[1]).toMatchObject({ level: 'error', category: 'permanent' });
  });

  it('keeps an attempt that is retried apart from the task failing later', () => {
    const events = journal(
      [
        0,
        {
          type: 'task.attempt_failed',
          taskId: 'a',
          attempt: 1,
          error: { category: 'transient', message: 'overloaded' },
          retryInMs: 2000,
        },
      ],
      [0, status('a', 'running', 'ready')],
      [2000, status('a', 'ready', 'running')],
      [2000, { type: 'task.assigned', taskId: 'a', worker: 1, attempt: 2 }],
      [3000, { type: 'task.failed', taskId: 'a', error: 'failed after 2 attempts' }],
      [3000, status('a', 'running', 'failed', 'failed after 2 attempts')],
    );
    expect(told(events)).toEqual([
      'a attempt 1 failed: overloaded; retry in 2.0s',
      'a → w1 (attempt 2)',
      'a failed: failed after 2 attempts',
    ]);
  });

  it('tells a task sent back once: its queueing again is what "sent back" says', () => {
    const events = journal(
      [0, status('a', 'running', 'reviewing')],
      [
        1,
        {
          type: 'task.reviewed',
          taskId: 'a',
          attempt: 1,
          review: { verdict: 'rework', feedback: 'Add the examples.' },
          charge: { usage, costUsd: 0.0004 },
        },
      ],
      [1, { ...status('a', 'reviewing', 'ready'), feedback: 'Add the examples.' } as Body],
      [1, status('a', 'ready', 'running')],
      [1, { type: 'task.assigned', taskId: 'a', worker: 0, attempt: 2 }],
    );
    expect(told(events)).toEqual(['a reviewing', 'a sent back: Add the examples.', 'a → w0 (attempt 2)']);
  });

  it('tells a run completed once, saying how; told across two batches of the stream alike', () => {
    const events = journal(
      [0, { type: 'run.status', status: 'completed' }],
      [
        0,
        {
          type: 'run.completed',
          review: { verdict: 'success', summary: 'Every task was completed.', followUps: [] },
        },
      ],
    );
    const pane = new EventPane();
    pane.tell(events.slice(0, 1));
    pane.tell(events.slice(1));
    expect(pane.lines.map((line) => line.text)).toEqual([
      'run completed (success): Every task was completed.',
    ]);
  });

  it("tells a person's pause and resume once each, not again as the run's status", () => {
    const events = journal(
      [0, { type: 'run.status', status: 'executing' }],
      [500, { type: 'run.paused', reason: 'user' }],
      [500, { type: 'run.status', status: 'paused' }],
      [900, { type: 'run.status', status: 'executing' }],
      [900, { type: 'run.resumed' }],
    );
    expect(told(events)).toEqual(['run is executing', 'paused (user)', 'resumed']);
  });

  it("tells a person's retry in one line, which the dispatch that follows keeps", () => {
    const events = journal(
      [0, status('k2', 'failed', 'pending', 'retried by a person')],
      [0, status('k2', 'pending', 'ready')],
      [2, status('k2', 'ready', 'running')],
      [2, { type: 'task.assigned', taskId: 'k2', worker: 1, attempt: 2 }],
    );
    expect(told(events)).toEqual(['k2 ready: retried by a person', 'k2 → w1 (attempt 2)']);
    // Pending for its dependencies, it is ready later: two things.
    const waited = journal(
      [0, status('k3', 'failed', 'pending', 'retried by a person')],
      [5_000, status('k3', 'pending', 'ready')],
    );
    expect(told(waited)).toEqual(['k3 pending: retried by a person', 'k3 ready']);
  });

  it('names the tasks a restart interrupted, and tells their dispatch again', () => {
    const events = journal(
      [0, { type: 'task.assigned', taskId: 't6', worker: 1, attempt: 1 }],
      [
        9_000,
        {
          type: 'run.restored',
          interruptedTasks: ['t2', 't5', 't6'],
          lastAliveAt: new Date(Date.UTC(2026, 11, 1, 2, 0, 5)).toISOString(),
        },
      ],
      [9_001, status('t6', 'running', 'ready')],
      [9_002, status('t6', 'ready', 'running')],
      [9_002, { type: 'task.assigned', taskId: 't6', worker: 2, attempt: 2 }],
    );
    expect(told(events)).toEqual([
      't6 → w1 (attempt 1)',
      'restored after a daemon restart; interrupted, and run again: t2, t5, t6',
      't6 → w2 (attempt 2)',
    ]);
  });
});
