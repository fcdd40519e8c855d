import { costFigure, formatCost, idList, OrcError, plural, type InboxItem } from '@orc/shared';
import { taskCost } from '../run/run-budget.js';
import type { Run } from '../run/run.js';
import { answerPlan, cancelRun, resumeRun, retryTask, skipTask } from '../run/run-control.js';
import { cappedTasks, retryCapped } from '../run/retry-capped.js';
import type { Answer, AnswerAction } from './inbox.js';
import { cancelledHoldingWork, heldBehind } from './run-needs.js';

/** Calls `fn` with the run, loaded when it is not in memory and with its repository open for work. */
export type UseRun = <T>(runId: string, fn: (run: Run) => T | Promise<T>) => Promise<T>;

/**
 * What each answer does to its run: the same checked operations `orc resume`, `orc retry` and the others
 * use (run-control.ts), so an answer is refused for the same reasons, with the same words.
 */
export function answerRunItems(use: UseRun, openForWork: (run: Run) => Promise<Run>): AnswerAction {
  return (item, answer, tell) =>
    use(item.runId, async (run) => {
      // A retry or a skip gives a finished run work again: its repository must be open for it.
      const gives =
        (item.type === 'task_failed' || item.type === 'held' || item.type === 'run_held') &&
        answer.choice !== 'cancel';
      act(gives ? await openForWork(run) : run, item, answer, tell);
    });
}

/**
 * Carries the answer out, with its line: what it did, in words (`orc answer i2 retry` repeated the item's
 * question, as if nothing had happened).
 */
function act(run: Run, item: InboxItem, answer: Answer, tell: (outcome: string) => void): void {
  const taskId = item.taskId ?? '';
  const cancel = () => {
    tell(`run ${run.id} is cancelled: no task of it runs again`);
    cancelRun(run);
  };
  switch (item.type) {
    case 'plan_approval': {
      const decision = answer.choice === 'approve' ? 'approve' : answer.choice === 'edit' ? 'edit' : 'refuse';
      tell(
        decision === 'approve'
          ? `run ${run.id} goes to work on its plan`
          : decision === 'edit'
            ? `the manager plans run ${run.id} again with your note`
            : `run ${run.id} is cancelled: its plan was refused`,
      );
      return answerPlan(run, decision, answer.note);
    }
    case 'budget':
    case 'quota':
    case 'provider':
    case 'source':
    case 'storage':
    case 'backend':
      if (answer.choice === 'cancel') return cancel();
      // Waiting out a quota is the run's own plan: the answer only says a person knows.
      if (answer.choice === 'wait') return tell(`run ${run.id} goes on by itself once it can`);
      tell(
        answer.budgetUsd !== undefined
          ? `run ${run.id} goes on within a budget of ${formatCost(answer.budgetUsd)}`
          : item.type === 'budget'
            ? `run ${run.id} goes on past its budget`
            : `run ${run.id} goes on`,
      );
      return resumeRun(run, answer.budgetUsd === undefined ? {} : { maxCostUsd: answer.budgetUsd });
    case 'run_held': {
      if (answer.choice === 'cancel') return cancel();
      const ids = cancelledHoldingWork(run);
      const skip = answer.choice === 'skip';
      const named = ids.length === 1 ? `task ${ids[0]}` : `tasks ${ids.join(', ')}`;
      tell(
        ids.length === 0
          ? `run ${run.id} goes on`
          : skip
            ? `${named} ${ids.length === 1 ? 'is' : 'are'} skipped in run ${run.id}`
            : `${named} ${ids.length === 1 ? 'runs' : 'run'} again in run ${run.id}`,
      );
      // The first retry (or the last skip) resumes the run; the others are then retried on a run that executes.
      for (const id of ids) (skip ? skipTask : retryTask)(run, id);
      return;
    }
    case 'task_failed':
      if (answer.choice === 'cancel') return cancel();
      if (answer.choice === 'raise') return raiseCap(run, item, answer, tell);
      if (answer.choice === 'retry_all') return retryAllCapped(run, item, answer, tell);
      tell(taskOutcome(run, taskId, answer.choice === 'skip', []));
      if (answer.choice === 'skip') return skipTask(run, taskId);
      return retryTask(run, taskId);
    case 'held': {
      // The tasks held because they wait for this one go on with it: run after it, or once it is skipped.
      const held = heldBehind(run, taskId);
      if (answer.choice === 'raise') raiseCap(run, item, answer, tell, held);
      else {
        tell(taskOutcome(run, taskId, answer.choice === 'skip', held));
        if (answer.choice === 'skip') skipTask(run, taskId);
        else retryTask(run, taskId);
      }
      for (const id of held) retryTask(run, id);
      return;
    }
    case 'permission':
      // Answered by the agent waiting for it (permission-desk.ts); an item without one is gone.
      return;
  }
}

/** The answer's line for a task run again or skipped, with the held tasks that go on with it. */
function taskOutcome(run: Run, taskId: string, skip: boolean, held: string[]): string {
  const along =
    held.length === 0 ? '' : `; ${held.join(', ')} ${held.length === 1 ? 'goes' : 'go'} on with it`;
  return skip
    ? `task ${taskId} of run ${run.id} is skipped: what waits for it goes on${along}`
    : `task ${taskId} of run ${run.id} runs again${along}`;
}

/**
 * Raises the run's cap on a task's cost and runs the task again. The cap is the person's `--budget`, else
 * the figure the choice showed (RunBudget's `neededCap`, the one figure every surface gives). A figure
 * under what the task needs, or under the run's cap (a raise lowering it for every task), is refused in
 * the answer's own words: `orc retry`'s refusal named its `--task-budget` to someone in the inbox.
 *
 * The other tasks that stopped at the old cap are not run with it: each costs what its own answer says
 * it may, and the cap exists so nothing spends past it unasked. Their items are revised to the new cap
 * (run-inbox-feed.ts), a plain retry where it is enough, and the answer's line names them.
 */
function raiseCap(
  run: Run,
  item: InboxItem,
  answer: Answer,
  tell: (outcome: string) => void,
  /** Held tasks the answer runs with it: the figure covers them too, as its choice showed. */
  along: string[] = [],
): void {
  const taskId = item.taskId ?? '';
  const task = run.taskRecord(taskId);
  const needed = Math.max(
    run.budget.neededCap(task),
    ...along.flatMap((id) => run.budget.capToRetry(run.taskRecord(id)) ?? []),
  );
  const was = run.budget.taskLimit;
  const cap = answer.budgetUsd ?? needed;
  const again = `orc answer ${item.id} raise gives it ${formatCost(needed)} (raise --budget <usd> for ${costFigure(needed)} or more)`;
  if (cap < needed - 1e-6)
    throw new OrcError(
      'INVALID_STATE',
      `a cap of ${formatCost(cap)} is too low for task ${taskId}: it has cost ${formatCost(taskCost(task))} and a retry (an attempt and its review) needs ${formatCost(needed)}; ${again}`,
    );
  if (was !== undefined && cap < was - 1e-6)
    throw new OrcError(
      'INVALID_STATE',
      `a cap of ${formatCost(cap)} is under the run's ${formatCost(was)} and would lower it for every task; ${again}`,
    );
  tell(raisedLine(run, taskId, was, cap));
  retryTask(run, taskId, { maxTaskCostUsd: cap });
}

/**
 * Runs every task stopped at the cap again (run/retry-capped.ts), under the cap the choice showed or the
 * person's `--budget`; their items close as their tasks run. A task that stopped since and needs more than
 * the figure shown is refused in the answer's own words, changing nothing: the cap is not raised past
 * what a person saw unasked.
 */
function retryAllCapped(run: Run, item: InboxItem, answer: Answer, tell: (outcome: string) => void): void {
  const shown = item.choices.find((c) => c.id === 'retry_all')?.budgetUsd;
  const cap = answer.budgetUsd ?? shown;
  const was = run.budget.taskLimit;
  const fix = (usd: number) => `orc answer ${item.id} retry_all --budget ${costFigure(usd)}`;
  const ids = cappedTasks(run).map((task) => task.id);
  const raised =
    cap !== undefined && was !== undefined && cap > was + 1e-6
      ? `the cost cap of a task is ${formatCost(cap)} now (was ${formatCost(was)}), for every task of run ${run.id}; `
      : '';
  const list = idList(ids, 10);
  // Told first: the item closes as its task moves, with what the answer did. A refusal below tells nothing.
  tell(`${raised}${plural(ids.length, 'task')} stopped at the cap run again: ${list}`);
  retryCapped(run, cap === undefined ? {} : { maxTaskCostUsd: cap }, fix);
}

/** The answer's line for a raise: the new cap, and what it means for the other tasks that stopped at the old one. */
function raisedLine(run: Run, taskId: string, was: number | undefined, cap: number): string {
  const others = [...run.tasks.rows()].flatMap((row) => {
    if (row.id === taskId || (row.status !== 'failed' && row.status !== 'blocked')) return [];
    const task = run.tasks.get(row.id);
    const stopped = task && run.budget.stoppedAt(task);
    return stopped ? [{ id: row.id, fits: cap >= stopped.capUsd - 1e-6 }] : [];
  });
  const fit = others.filter((o) => o.fits).map((o) => o.id);
  const short = others.filter((o) => !o.fits).map((o) => o.id);
  return [
    `the cost cap of a task is ${formatCost(cap)} now${was === undefined ? '' : ` (was ${formatCost(was)})`}, for every task of run ${run.id}; task ${taskId} runs again`,
    ...(fit.length > 0
      ? [
          `${idList(fit, 5)} stopped at the old cap and fit this one: orc inbox offers each a retry${fit.length > 1 ? `, orc retry ${run.id} --all-capped runs them all` : ''}`,
        ]
      : []),
    ...(short.length > 0 ? [`${idList(short, 5)} need more: orc inbox offers each a raise`] : []),
  ].join('; ');
}
