import { TaskSpec } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { startOrder } from './start-order.js';

const spec = (id: string, dependencies: string[] = [], priority = 'medium') =>
  TaskSpec.parse({ id, title: `Task ${id}`, dependencies, priority });

describe('startOrder', () => {
  it('starts the longest chain first, then by priority, then by natural id, never before a dependency', () => {
    const specs = [
      spec('10'),
      spec('2', [], 'high'),
      spec('3'),
      spec('4', ['3']),
      spec('5', ['4']),
      spec('1'),
      spec('6', ['1', '2']),
    ];
    expect(startOrder(specs).map((s) => s.id)).toEqual(['3', '2', '1', '4', '5', '6', '10']);
  });

  it('orders dotted subtask ids naturally', () => {
    expect(startOrder([spec('5.10'), spec('5.2'), spec('5.1')]).map((s) => s.id)).toEqual([
      '5.1',
      '5.2',
      '5.10',
    ]);
  });
});
