import type { TaskRecord, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { TaskGraph } from './task-graph.js';

const record = (id: string, status: TaskStatus, dependencies: string[] = []): TaskRecord => ({
  id,
  title: id,
  description: '',
  dependencies,
  priority: 'medium',
  status,
  attempts: [],
  reworks: 0,
});

/** A graph over records kept in a map, as a run keeps them. */
function graphOf(tasks: TaskRecord[]) {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const graph = new TaskGraph((id) => byId.get(id)?.status);
  const free = graph.rebuild(tasks, (task) => task);
  const move = (id: string, to: TaskStatus) => {
    const task = byId.get(id)!;
    const from = task.status;
    task.status = to;
    return graph.moved(task, from, to);
  };
  return { graph, free, move };
}

describe('TaskGraph', () => {
  it("tells a task's longest chain still ahead, itself included (the merge train's rank)", () => {
    const { graph } = graphOf([
      record('a', 'pending'),
      record('b', 'pending', ['a']),
      record('c', 'pending', ['b']),
      record('d', 'pending', ['a']),
    ]);
    expect(['a', 'b', 'c', 'd', 'zz'].map((id) => graph.criticalPathOf(id))).toEqual([3, 2, 1, 1, 1]);
  });

  it('frees what waits on done tasks, and on skipped ones only once what they wait on is done', () => {
    const { graph, free } = graphOf([
      record('a', 'done'),
      record('b', 'skipped', ['a']),
      record('c', 'skipped', ['b']),
      record('d', 'running'),
      record('e', 'skipped', ['d']),
      record('f', 'skipped', ['e']),
      record('g', 'skipped'),
      record('h', 'failed'),
      record('x', 'pending', ['c', 'g']),
      record('y', 'pending', ['f']),
      record('z', 'pending', ['h', 'a']),
    ]);
    expect(free).toEqual(['x']);
    expect(['x', 'y', 'z'].map((id) => graph.waitingFor(id))).toEqual([0, 1, 1]);
  });

  it('follows moves: a done task frees its dependents, undoing it holds them again', () => {
    const { graph, move } = graphOf([
      record('a', 'running'),
      record('b', 'pending', ['a']),
      record('c', 'pending', ['a', 'b']),
      record('s', 'skipped', ['a']),
      record('d', 'pending', ['s']),
    ]);
    // a done frees b, and d through the skipped s; c still waits for b.
    expect(move('a', 'done').sort()).toEqual(['b', 'd']);
    expect(graph.waitingFor('c')).toBe(1);
    expect(move('b', 'done')).toEqual(['c']);
    expect(graph.countsByStatus()).toEqual({ done: 2, pending: 2, skipped: 1 });
    // A retry of a takes it back: everything after it waits again.
    expect(move('a', 'ready')).toEqual([]);
    expect(['b', 'c', 'd'].map((id) => graph.waitingFor(id))).toEqual([1, 1, 1]);
  });

  it('serves the ready task on the longest chain first, then priority, then natural id order', () => {
    const { graph, move } = graphOf([
      record('t10', 'pending'),
      record('t9', 'pending'),
      record('t2', 'pending'),
      record('long', 'pending'),
      record('l2', 'pending', ['long']),
      record('l3', 'pending', ['l2']),
    ]);
    for (const id of ['t10', 't9', 't2', 'long']) move(id, 'ready');
    const order = [graph.takeReady(), graph.takeReady(), graph.takeReady(), graph.takeReady()];
    expect(order).toEqual(['long', 't2', 't9', 't10']);
    expect(graph.dependentsOf('long')).toEqual(['l2']);
  });
});
