import type { TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { indexOfRow, mergeRows } from './held-rows.js';

const task = (id: string): TaskRecord => ({
  id,
  title: id,
  description: '',
  dependencies: [],
  priority: 'medium',
  status: 'pending',
  attempts: [],
  reworks: 0,
});

describe('held rows', () => {
  it('finds a row among rows held apart', () => {
    const rows = [0, 1, 2, 50, 51, 98, 99];
    expect(rows.map((row) => indexOfRow(rows, row))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(indexOfRow(rows, 3)).toBe(-1);
    expect(indexOfRow(rows, 100)).toBe(-1);
    expect(indexOfRow([], 0)).toBe(-1);
  });

  it('puts a page in place of the rows it covers and drops the rows no longer wanted', () => {
    const held = {
      rows: [0, 1, 2, 10, 11, 12, 98, 99],
      tasks: ['a', 'b', 'c', 'k', 'l', 'm', 'y', 'z'].map(task),
    };
    const merged = mergeRows(held, 11, ['L', 'M', 'N'].map(task), (row) => row < 2 || row >= 10);
    expect(merged.rows).toEqual([0, 1, 10, 11, 12, 13, 98, 99]);
    expect(merged.tasks.map((t) => t.id)).toEqual(['a', 'b', 'k', 'L', 'M', 'N', 'y', 'z']);
    // A page past every row held, and one before them.
    expect(mergeRows(held, 200, [task('end')], () => false).rows).toEqual([200]);
    expect(mergeRows(held, 0, [task('A')], () => true).tasks.map((t) => t.id)).toEqual([
      'A',
      'b',
      'c',
      'k',
      'l',
      'm',
      'y',
      'z',
    ]);
  });
});
