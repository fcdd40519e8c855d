import { ZERO_USAGE, type Attempt } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { RunBudget } from './run-budget.js';

const attempt = { n: 1, worker: 0, startedAt: '', outcome: 'failed', usage: ZERO_USAGE, costUsd: 0.0006 };
const task = {
  id: 'b',
  attempts: [attempt as Attempt],
  error:
    'task b would pass the cost cap of a task ($0.001, execution.max_task_cost_usd): it has cost $0.0006; a retry needs a cap of $0.0042: orc retry r1 b --task-budget 0.0042',
};
const head = task.error.slice(0, task.error.indexOf('; a retry'));
/** A budget whose task b stopped at a $0.001 cap, advised $0.0042, under the run's cap `cap` now. */
const budget = (cap: number) =>
  new RunBudget(
    {
      id: 'r1',
      usage: ZERO_USAGE,
      costUsd: 0,
      retryCaps: { b: { spentUsd: 0.0006, capUsd: 0.0042, underUsd: 0.001 } },
    },
    undefined,
    () => undefined,
    cap,
  );

describe('RunBudget.revisedError', () => {
  it('leaves the advice as it is under the cap the task stopped at', () => {
    expect(budget(0.001).revisedError(task)).toBeUndefined();
  });

  it('advises a plain retry once the run cap is enough, and again the figure if not', () => {
    const enough = budget(0.005).revisedError(task);
    expect(enough).toBe(`${head}; the cap is $0.005 now, enough for a retry: orc retry r1 b`);
    const short = budget(0.003).revisedError({ ...task, error: enough! });
    expect(short).toBe(
      `${head}; a retry needs a cap of $0.0042 (the cap is $0.003 now): orc retry r1 b --task-budget 0.0042`,
    );
  });

  it('revises nothing once the task spent more than its kept figure was for', () => {
    const spent = { ...task, attempts: [{ ...attempt, costUsd: 0.0009 } as Attempt] };
    expect(budget(0.005).revisedError(spent)).toBeUndefined();
  });
});
