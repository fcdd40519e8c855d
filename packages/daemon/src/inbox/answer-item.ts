import { type InboxItem, OrcError } from '@orc/shared';
import type { Run } from '../run/run.js';
import { answerPlan, cancelRun, resumeRun, retryTask, skipTask } from '../run/run-control.js';
import type { Answer, AnswerAction } from './inbox.js';
import { cancelledHoldingWork, waitingOn } from './run-needs.js';

/** Calls `fn` with the run, loaded when it is not in memory and with its repository open for work. */
export type UseRun = <T>(runId: string, fn: (run: Run) => T | Promise<T>) => Promise<T>;

/**
 * What each answer does to its run: the same checked operations `orc resume`, `orc retry` and the others
 * use (run-control.ts), so an answer is refused for the same reasons, with the same words.
 */
export function answerRunItems(use: UseRun, openForWork: (run: Run) => Promise<Run>): AnswerAction {
  return (item, answer) =>
    use(item.runId, async (run) => {
      // A retry or a skip gives a finished run work again: its repository must be open for it.
      const gives =
        (item.type === 'task_failed' || item.type === 'held' || item.type === 'run_held') &&
        answer.choice !== 'cancel';
      act(gives ? await openForWork(run) : run, item, answer);
    });
}

function act(run: Run, item: InboxItem, answer: Answer): void {
  const taskId = item.taskId ?? '';
  switch (item.type) {
    case 'plan_approval':
      return answerPlan(
        run,
        answer.choice === 'approve' ? 'approve' : answer.choice === 'edit' ? 'edit' : 'refuse',
        answer.note,
      );
    case 'budget':
    case 'quota':
    case 'provider':
    case 'source':
    case 'storage':
    case 'backend':
      if (answer.choice === 'cancel') return cancelRun(run);
      // Waiting out a quota is the run's own plan: the answer only says a person knows.
      if (answer.choice === 'wait') return;
      return resumeRun(run, answer.budgetUsd === undefined ? {} : { maxCostUsd: answer.budgetUsd });
    case 'run_held':
      if (answer.choice === 'cancel') return cancelRun(run);
      // The first retry resumes the run; the others are then retried on a run that executes.
      for (const id of cancelledHoldingWork(run)) retryTask(run, id);
      return;
    case 'task_failed':
      if (answer.choice === 'cancel') return cancelRun(run);
      if (answer.choice === 'skip') return skipTask(run, taskId);
      if (answer.choice === 'raise') return raiseCap(run, item, answer);
      return retryTask(run, taskId);
    case 'held': {
      // The tasks held because they wait for this one go on with it: run after it, or once it is skipped.
      const held = waitingOn(run, taskId).filter((id) => {
        const task = run.tasks.get(id);
        return task?.status === 'blocked' && task.held !== undefined;
      });
      if (answer.choice === 'skip') skipTask(run, taskId);
      else retryTask(run, taskId);
      for (const id of held) retryTask(run, id);
      return;
    }
    case 'permission':
      // Answered by the agent waiting for it (permission-desk.ts); an item without one is gone.
      return;
  }
}

/**
 * Raises the cap and runs the task again. The cap is the person's `--budget`, else what the task needs
 * now (the figure its choice showed, unless calls that ended since moved the averages it is foreseen
 * from). A `--budget` too low for that is refused with the answer's own words: `orc retry`'s refusal
 * named its `--task-budget` to someone answering the inbox.
 */
function raiseCap(run: Run, item: InboxItem, answer: Answer): void {
  const taskId = item.taskId ?? '';
  const needed = run.budget.capToRetry(run.taskRecord(taskId));
  if (answer.budgetUsd !== undefined && needed !== undefined) {
    const enough = run.budget.capToRetry(run.taskRecord(taskId), answer.budgetUsd);
    if (enough !== undefined)
      throw new OrcError(
        'INVALID_STATE',
        `a cap of $${answer.budgetUsd} is too low for task ${taskId}: its retry would fail at once; orc answer ${item.id} raise --budget ${enough.toFixed(4)} (or more), or raise alone for $${needed.toFixed(4)}`,
      );
  }
  retryTask(run, taskId, { maxTaskCostUsd: answer.budgetUsd ?? needed });
}
