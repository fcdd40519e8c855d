import { costFigure, formatCost, OrcError, type TaskRecord } from '@orc/shared';
import { retryTask } from './run-control.js';
import type { Run } from './run.js';

/**
 * The run's tasks stopped at the cost cap of a task (`max_task_cost_usd`), failed or blocked there and
 * not run since, in the order they stopped. Read from the figures the budget keeps for such tasks, not
 * from every task: each capped task's inbox item asks.
 */
export function cappedTasks(run: Run): TaskRecord[] {
  return run.budget.cappedTaskIds().flatMap((id) => {
    const status = run.tasks.statusOf(id);
    if (status !== 'failed' && status !== 'blocked') return [];
    const task = run.tasks.get(id);
    return task && run.budget.stoppedAt(task) !== undefined ? [task] : [];
  });
}

/** The cap that lets every task in `tasks` be retried: the most any one needs (`RunBudget.neededCap`). */
function capForAll(run: Run, tasks: readonly TaskRecord[]): { usd: number; taskId: string } {
  let most = { usd: 0, taskId: '' };
  for (const task of tasks) {
    const usd = run.budget.neededCap(task);
    if (usd > most.usd) most = { usd, taskId: task.id };
  }
  return most;
}

/**
 * Runs every task stopped at the cost cap of a task again, with one raise of the cap for them all: eight
 * tasks stopped at a cap made eight inbox items, and after one raise each retry needed its own answer.
 * `maxTaskCostUsd`: the cap they run under, raised to it first; without it the run's cap must be enough
 * for each. A figure short of what one of them needs is refused, changing nothing, with the figure that
 * is and `fix`'s command (`orc retry --all-capped`, or the inbox answer's). Returns the tasks run again.
 */
export function retryCapped(
  run: Run,
  options: { maxTaskCostUsd?: number } = {},
  fix: (capUsd: number) => string = (capUsd) =>
    `orc retry ${run.id} --all-capped --task-budget ${costFigure(capUsd)}`,
): string[] {
  run.assertChangeable('retry its tasks');
  const tasks = cappedTasks(run);
  if (tasks.length === 0)
    throw new OrcError(
      'INVALID_STATE',
      `run ${run.id} has no task stopped at the cost cap of a task; orc retry ${run.id} <task> runs one task again`,
    );
  const { maxTaskCostUsd } = options;
  const cap = maxTaskCostUsd ?? run.budget.taskLimit ?? Infinity;
  const needed = capForAll(run, tasks);
  if (cap < needed.usd - 1e-6) {
    const asked =
      maxTaskCostUsd === undefined
        ? `the cost cap of a task is ${formatCost(cap)}`
        : `a cap of ${formatCost(cap)} is not enough`;
    throw new OrcError(
      'INVALID_STATE',
      `${asked}: of the ${tasks.length} tasks stopped at it, task ${needed.taskId} needs ${formatCost(needed.usd)} to be retried; ${fix(needed.usd)} (or more) raises the run's cap and runs them all`,
    );
  }
  // The first raises the cap (checked as `orc retry --task-budget` is); the others run under it.
  const [first, ...rest] = tasks;
  retryTask(run, first!.id, maxTaskCostUsd === undefined ? {} : { maxTaskCostUsd });
  for (const task of rest) retryTask(run, task.id);
  return tasks.map((task) => task.id);
}
