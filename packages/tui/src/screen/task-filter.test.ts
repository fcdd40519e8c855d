import type { TaskRecord, TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { TaskFilter } from './task-filter.js';

const task = (id: string, status: TaskStatus, title = `Task ${id}`): TaskRecord => ({
  id,
  title,
  description: '',
  dependencies: [],
  priority: 'medium',
  status,
  attempts: [],
  reworks: 0,
});

describe('TaskFilter', () => {
  it('steps through the statuses and back to every task, each step a new query', () => {
    const filter = new TaskFilter();
    expect(filter.query).toBeUndefined();
    const seen: (string | undefined)[] = [];
    const queries = new Set<unknown>();
    for (let i = 0; i < 6; i++) {
      filter.nextStatus();
      seen.push(filter.describe());
      queries.add(filter.query);
    }
    expect(seen).toEqual(['failed', 'running', 'waiting', 'done', 'skipped/cancelled', undefined]);
    expect(queries.size).toBe(6);
    filter.nextStatus();
    filter.nextStatus();
    expect(filter.query).toEqual({ status: ['running', 'reviewing', 'merging'] });
    expect(filter.shows(task('a', 'reviewing'))).toBe(true);
    expect(filter.shows(task('a', 'ready'))).toBe(false);
  });

  it('searches ids and titles without regard to case, and an empty search clears it', () => {
    const filter = new TaskFilter();
    filter.search('  AUTH  ');
    expect(filter.query).toEqual({ search: 'AUTH' });
    expect(filter.describe()).toBe('"AUTH"');
    expect(filter.shows(task('t1', 'done', 'Add auth'))).toBe(true);
    expect(filter.shows(task('auth-2', 'done', 'Other'))).toBe(true);
    expect(filter.shows(task('t2', 'done', 'Other (a.u.t.h)'))).toBe(false);
    filter.search(' ');
    expect(filter.query).toBeUndefined();
    filter.nextStatus();
    filter.search('x');
    filter.clear();
    expect(filter.query).toBeUndefined();
    expect(filter.searchText).toBe('');
  });
});
