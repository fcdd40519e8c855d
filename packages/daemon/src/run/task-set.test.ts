import type { TaskRecord, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { taskMachine } from '../actors/task.machine.js';
import { TaskText } from '../store/run-document.js';
import { TaskSet, type TaskMove } from './task-set.js';

const record = (id: string, status: TaskStatus, over: Partial<TaskRecord> = {}): TaskRecord => ({
  id,
  title: `Task ${id}`,
  description: 'd',
  dependencies: [],
  priority: 'medium',
  status,
  attempts: [],
  reworks: 0,
  ...over,
});

describe('TaskSet', () => {
  it('keeps a settled task as its text once written, reads its status without it, and parses it when asked', () => {
    const moves: TaskMove[] = [];
    const tasks = new TaskSet(taskMachine, (move) => moves.push(move));
    const failed = record('b', 'failed', { error: 'it broke', finishedAt: '2026-01-01T00:00:00.000Z' });
    tasks.replaceAll([record('a', 'pending'), failed, record('c', 'done', { result: 'ok' })]);

    const stored = tasks.stored();
    // The pending task stays a record; the settled ones become their text, written as they are.
    expect(stored.map((t) => t instanceof TaskText)).toEqual([false, true, true]);
    expect(JSON.parse(JSON.stringify(stored))).toEqual([
      record('a', 'pending'),
      failed,
      record('c', 'done', { result: 'ok' }),
    ]);
    expect([...tasks.rows()].map((t) => t instanceof TaskText)).toEqual([false, true, true]);
    expect(tasks.statusOf('b')).toBe('failed');
    expect(tasks.get('b')).toEqual(failed);
    expect([...tasks.values()].map((t) => t.id)).toEqual(['a', 'b', 'c']);
    // Each parse is afresh: nothing holds on to a settled task's objects.
    expect(tasks.get('b')).not.toBe(tasks.get('b'));

    // A settled task moves on from its text: a retry makes it a record again, pending.
    expect(tasks.send('b', { type: 'task.retry' })).toBe(true);
    expect(moves.map((m) => [m.task.id, m.from, m.to])).toEqual([['b', 'failed', 'pending']]);
    expect(tasks.statusOf('b')).toBe('pending');
    expect([...tasks.rows()].map((t) => t instanceof TaskText)).toEqual([false, false, true]);
  });

  it("hands out each task's place in the run's order, a map never changed once handed out", () => {
    const tasks = new TaskSet(taskMachine, () => undefined);
    // An id given twice (never in a valid plan) keeps its first place and its last record.
    tasks.replaceAll([
      record('a', 'pending'),
      record('b', 'done'),
      record('a', 'failed'),
      record('c', 'done'),
    ]);
    const first = tasks.placed();
    expect(first.tasks.map((t) => [t.id, t.status])).toEqual([
      ['a', 'failed'],
      ['b', 'done'],
      ['c', 'done'],
    ]);
    expect([...first.places]).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);

    tasks.add([record('d', 'pending')]);
    tasks.remove(['a']);
    expect(tasks.send('d', { type: 'task.unblocked', at: '2026-01-01T00:00:00.000Z' })).toBe(true);
    // What the graph was given stays as it was; the set's own places follow the tasks.
    expect([...first.places]).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    const now = tasks.placed();
    expect(now.tasks.map((t) => [t.id, t.status])).toEqual([
      ['b', 'done'],
      ['c', 'done'],
      ['d', 'ready'],
    ]);
    expect([...now.places]).toEqual([
      ['b', 0],
      ['c', 1],
      ['d', 2],
    ]);
    expect(tasks.get('d')?.status).toBe('ready');
    expect(tasks.get('a')).toBeUndefined();
    expect(tasks.size).toBe(3);
  });

  it('hands a save the tasks changed since the last one, or every task once tasks came or went', () => {
    const tasks = new TaskSet(taskMachine, () => undefined);
    tasks.replaceAll([record('a', 'pending'), record('b', 'done'), record('c', 'pending')]);
    const first = tasks.changes();
    expect(first.whole).toBe(true);
    expect(first.tasks.map((t) => [t.id, t instanceof TaskText])).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
    ]);
    expect(tasks.changes()).toMatchObject({ whole: false, tasks: [] });

    tasks.send('a', { type: 'task.unblocked', at: '2026-01-01T00:00:00.000Z' });
    const some = tasks.changes();
    expect(some.whole).toBe(false);
    expect(some.tasks.map((t) => `${t.id} ${t.status}`)).toEqual(['a ready']);
    // A checkpoint's whole list between two saves takes nothing from the next save.
    tasks.send('c', { type: 'task.unblocked', at: '2026-01-01T00:00:00.000Z' });
    expect(tasks.stored()).toHaveLength(3);
    expect(tasks.changes().tasks.map((t) => t.id)).toEqual(['c']);

    tasks.add([record('d', 'pending')]);
    expect(tasks.changes()).toMatchObject({ whole: true });
    tasks.remove(['d']);
    expect(tasks.changes().tasks.map((t) => t.id)).toEqual(['a', 'b', 'c']);
  });
});
