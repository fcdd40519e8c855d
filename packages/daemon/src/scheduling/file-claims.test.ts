import type { TaskRecord, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { TaskGraph } from './task-graph.js';

/** A run's records and its graph, moved the way the scheduler moves them. */
class Board {
  readonly records = new Map<string, TaskRecord>();
  readonly graph = new TaskGraph((id) => this.records.get(id)?.status);

  constructor(
    tasks: { id: string; touches?: string[]; deps?: string[]; priority?: TaskRecord['priority'] }[],
  ) {
    for (const t of tasks)
      this.records.set(t.id, {
        id: t.id,
        title: t.id,
        description: '',
        dependencies: t.deps ?? [],
        priority: t.priority ?? 'medium',
        ...(t.touches && { touches: t.touches }),
        status: (t.deps ?? []).length === 0 ? 'ready' : 'pending',
        attempts: [],
        reworks: 0,
      });
    this.graph.rebuild([...this.records.values()], (task) => task);
  }

  move(id: string, to: TaskStatus, change: Partial<TaskRecord> = {}): void {
    const before = this.records.get(id)!;
    const task = { ...before, ...change, status: to };
    this.records.set(id, task);
    for (const freed of this.graph.moved(task, before.status, to)) this.move(freed, 'ready');
  }

  /** Fills `free` workers as the scheduler does: the best task that may start, until none may. */
  start(free: number): string[] {
    const started: string[] = [];
    while (started.length < free) {
      const id = this.graph.takeReady();
      if (id === undefined) break;
      this.move(id, 'running');
      started.push(id);
    }
    return started;
  }
}

describe('TaskGraph: tasks that touch the same files', () => {
  it('starts a task whose touches overlap one running only once that one lets go; others go meanwhile', () => {
    const board = new Board([
      { id: 't1', touches: ['src/x.ts'], priority: 'critical' },
      { id: 't2', touches: ['src/**'], priority: 'high' },
      { id: 't3', touches: ['docs/a.md'], priority: 'low' },
    ]);
    // Three workers, but t2 would edit what t1 edits: t3 goes before it.
    expect(board.start(3)).toEqual(['t1', 't3']);
    expect(board.graph.fileWaitOf('t2')).toEqual({ path: 'src/**', holder: 't1' });
    expect(board.graph.readyCount).toBe(0);
    expect(board.graph.waitingForFiles).toBe(1);
    // In review and being merged, t1 still holds its files.
    board.move('t1', 'reviewing');
    board.move('t1', 'merging');
    expect(board.start(3)).toEqual([]);
    board.move('t1', 'done');
    expect(board.graph.fileWaitOf('t2')).toBeUndefined();
    expect(board.start(3)).toEqual(['t2']);
  });

  it('never deadlocks: when every ready task overlaps every other, they run one after another', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const board = new Board(ids.map((id) => ({ id, touches: ['src/shared.ts'] })));
    const order: string[] = [];
    for (let round = 0; round < ids.length; round++) {
      const started = board.start(4);
      expect(started).toHaveLength(1);
      order.push(...started);
      board.move(started[0]!, 'done');
    }
    expect(order).toEqual(ids);
    expect(board.start(4)).toEqual([]);
    expect(board.graph.waitingForFiles).toBe(0);
  });

  it('a crowd waiting on one file takes turns in queue order, and always names the task it waits for now', () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i + 1}`);
    const board = new Board([
      ...ids.map((id) => ({ id, touches: ['src/shared.ts', `src/${id}.ts`] })),
      { id: 'free', priority: 'low' as const },
    ]);
    const order: string[] = [];
    expect(board.start(4)).toEqual(['c1', 'free']);
    order.push('c1');
    for (let holder = 'c1'; ;) {
      expect(board.graph.fileWaitOf('c20')).toEqual({ path: 'src/shared.ts', holder });
      expect(board.graph.waitingForFiles).toBe(20 - order.length);
      board.move(holder, 'done');
      const started = board.start(4);
      if (started.length === 0) break;
      expect(started).toHaveLength(1);
      order.push(started[0]!);
      holder = started[0]!;
      if (order.length === 20) {
        board.move(holder, 'done');
        break;
      }
    }
    expect(order).toEqual(ids);
    expect(board.graph.waitingForFiles).toBe(0);
    expect(board.graph.readyCount).toBe(0);
  });

  it('a woken task blocked on another of its paths waits for that holder alone; its group goes on', () => {
    const crowd = Array.from({ length: 12 }, (_, i) => `w${String(i + 1).padStart(2, '0')}`);
    const board = new Board([
      { id: 'h1', touches: ['src/a.ts'], priority: 'critical' },
      { id: 'h2', touches: ['docs/**'], priority: 'critical' },
      ...crowd.map((id, i) => ({
        id,
        touches: ['src/a.ts', ...(i === 0 ? ['docs/w.md'] : [`src/${id}.ts`])],
      })),
    ]);
    expect(board.start(3)).toEqual(['h1', 'h2']);
    board.move('h1', 'done');
    // w01 is first, but docs/w.md is h2's: w02 goes, and w01 waits for h2 alone.
    expect(board.start(3)).toEqual(['w02']);
    expect(board.graph.fileWaitOf('w01')).toEqual({ path: 'docs/w.md', holder: 'h2' });
    expect(board.graph.fileWaitOf('w03')).toEqual({ path: 'src/a.ts', holder: 'w02' });
    board.move('h2', 'done');
    expect(board.start(3)).toEqual([]);
    expect(board.graph.fileWaitOf('w01')).toEqual({ path: 'src/a.ts', holder: 'w02' });
    board.move('w02', 'done');
    expect(board.start(3)).toEqual(['w01']);
  });

  it('a task with no touches runs freely beside anything', () => {
    const board = new Board([
      { id: 'all', touches: ['**'], priority: 'critical' },
      { id: 'free1' },
      { id: 'free2' },
      { id: 'some', touches: ['README.md'] },
    ]);
    expect(board.start(4)).toEqual(['all', 'free1', 'free2']);
    expect(board.graph.fileWaitOf('some')).toEqual({ path: 'README.md', holder: 'all' });
  });

  it('a holder sent back to ready lets go; a parked task cancelled meanwhile is not queued again', () => {
    const board = new Board([
      { id: 't1', touches: ['src/a.ts'], priority: 'critical' },
      { id: 't2', touches: ['src/a.ts'], priority: 'high' },
      { id: 't3', touches: ['src/a.ts'] },
    ]);
    expect(board.start(3)).toEqual(['t1']);
    board.move('t3', 'cancelled');
    // A rework: t1 is ready again and holds nothing; t1 and t2 compete by rank again.
    board.move('t1', 'ready', { reworks: 1 });
    expect(board.start(3)).toEqual(['t1']);
    board.move('t1', 'done');
    expect(board.start(3)).toEqual(['t2']);
    board.move('t2', 'done');
    expect(board.start(3)).toEqual([]);
  });

  it('learned files count: a task whose planned touches were silent waits for what the holder changed', () => {
    const board = new Board([
      { id: 't1', priority: 'critical', touches: ['src/a.ts'] },
      { id: 't2', touches: ['lib/b.ts'] },
    ]);
    expect(board.start(1)).toEqual(['t1']);
    board.move('t1', 'merging');
    board.graph.learned('t1', ['lib/b.ts']);
    expect(board.start(1)).toEqual([]);
    expect(board.graph.fileWaitOf('t2')).toEqual({ path: 'lib/b.ts', holder: 't1' });
    // A rework after a merge conflict: its learned files go with it into the queue.
    board.move('t1', 'ready', { touched: ['lib/b.ts'] });
    expect(board.start(2)).toEqual(['t1']);
    expect(board.graph.fileWaitOf('t2')).toEqual({ path: 'lib/b.ts', holder: 't1' });
  });

  it('a task sent to its review does not wait for files: its work is done', () => {
    const board = new Board([
      { id: 't1', touches: ['src/a.ts'], priority: 'critical' },
      { id: 't2', touches: ['src/a.ts'] },
    ]);
    expect(board.start(1)).toEqual(['t1']);
    const worked = {
      attempts: [
        {
          n: 1,
          worker: 0,
          startedAt: '2026-01-01T00:00:00.000Z',
          outcome: 'succeeded' as const,
          output: 'done',
          usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
          costUsd: 0,
        },
      ],
    };
    board.move('t2', 'cancelled');
    board.move('t2', 'ready', worked);
    expect(board.graph.takeReady()).toBe('t2');
  });
});
