import type { TaskRecord, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { unblockingTasks } from './unblocking-tasks.js';

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

describe('unblockingTasks', () => {
  it('counts done tasks, and skipped ones only once what they depend on unblocks', () => {
    const tasks = new Map(
      [
        record('a', 'done'),
        record('b', 'skipped', ['a']),
        record('c', 'skipped', ['b']),
        record('d', 'running'),
        record('e', 'skipped', ['d']),
        record('f', 'skipped', ['e']),
        record('g', 'skipped'),
        record('h', 'failed'),
      ].map((t) => [t.id, t]),
    );
    expect([...unblockingTasks(tasks)].sort()).toEqual(['a', 'b', 'c', 'g']);
  });
});
