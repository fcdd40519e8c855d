import { describe, expect, it } from 'vitest';
import { ReasonGroups } from './reason-groups.js';

describe('ReasonGroups', () => {
  it('counts one reason of two tasks together though each names its own task', () => {
    const groups = new ReasonGroups();
    const capped = (id: string) =>
      `permanent error: task ${id} would pass the cost cap of a task ($0.001, execution.max_task_cost_usd): it has cost $0.0006`;
    groups.add(capped('setup-db'), 'setup-db');
    groups.add(capped('write-api'), 'write-api');
    groups.add('the input file is missing', 'write-api');
    expect(groups.top()).toEqual([
      {
        reason:
          'permanent error: task … would pass the cost cap of a task ($0.001, execution.max_task_cost_usd): it has cost $0.0006',
        count: 2,
        tasks: ['setup-db', 'write-api'],
      },
      { reason: 'the input file is missing', count: 1, tasks: ['write-api'] },
    ]);
  });
});
