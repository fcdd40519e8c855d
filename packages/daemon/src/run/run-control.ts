import {
  formatCost,
  FINISHED_RUN_STATUSES,
  OrcError,
  storedConfig,
  type RollbackStrategy,
} from '@orc/shared';
import { isoAt } from '../clock.js';
import { waitFor } from 'xstate';
import type { RollbackOutcome, RollbackRequest } from '../actors/run.machine.js';
import { applyRollback } from './apply-rollback.js';
import { finishedOrReviewing, resumeIfReleased } from './plan-edits.js';
import type { Run } from './run.js';

/**
 * What people do to a run, checked first: each refusal says what the run is doing and what to do instead,
 * and changes nothing. What is allowed is then an event to the run actor or to a task actor.
 */

export function pauseRun(run: Run): void {
  if (run.status === 'paused') return;
  if (!run.actor.getSnapshot().matches('executing')) {
    throw new OrcError(
      'INVALID_STATE',
      `run ${run.id} is ${run.status}; only an executing run can be paused`,
    );
  }
  run.actor.send({ type: 'run.pause' });
}

/** `maxCostUsd`: the run goes on within this new budget (USD) rather than past the old one. */
export function resumeRun(run: Run, options: { maxCostUsd?: number } = {}): void {
  const state = run.actor.getSnapshot();
  if (state.matches('rollingBack'))
    throw new OrcError('INVALID_STATE', `run ${run.id} is rolling back; resume it once it is done`);
  const { maxCostUsd } = options;
  if (state.matches('executing') && maxCostUsd === undefined) return;
  if (!state.matches('paused'))
    throw new OrcError('INVALID_STATE', `run ${run.id} is ${run.status}; only a paused run can be resumed`);
  if (maxCostUsd !== undefined) {
    if (maxCostUsd <= run.budget.costUsd) {
      throw new OrcError(
        'INVALID_STATE',
        `run ${run.id} has spent ${formatCost(run.budget.costUsd)}; a budget of $${String(maxCostUsd)} would pause it again at once: give more`,
      );
    }
    // Its own copy: the configuration object may be the daemon's, shared with other runs.
    run.config = { ...run.config, execution: { ...run.config.execution, max_cost_usd: maxCostUsd } };
    run.doc.config = storedConfig(run.config);
    run.budget.setLimit(maxCostUsd);
    run.emit({ type: 'run.budget_set', limitUsd: maxCostUsd });
  } else if (run.pauseReason === 'budget') {
    // Resuming a run the budget paused, without a new budget, is the person's decision to spend past it.
    run.budget.lift();
  }
  run.save();
  run.actor.send({ type: 'run.resume' });
}

/**
 * A person's answer to the plan a run waits with: approved, it goes to work; edited, the manager plans
 * again with the note (the plan it made is in the note's context); refused, the run is cancelled.
 */
export function answerPlan(run: Run, decision: 'approve' | 'edit' | 'refuse', note?: string): void {
  if (!run.actor.getSnapshot().matches('awaitingApproval'))
    throw new OrcError(
      'INVALID_STATE',
      `run ${run.id} is ${run.status}; its plan is not waiting for approval`,
    );
  run.emit({ type: 'run.plan_answered', decision, ...(note !== undefined && note !== '' && { note }) });
  if (decision === 'approve') run.actor.send({ type: 'run.approve' });
  else if (decision === 'refuse') run.actor.send({ type: 'run.refuse' });
  else run.actor.send({ type: 'run.replan', feedback: replanFeedback(run, note ?? '') });
}

/** What the manager is told when a person asks for changes: their note, and the plan they saw. */
function replanFeedback(run: Run, note: string): string {
  const tasks = [...run.tasks.values()].map(
    (t) => `- ${t.id}: ${t.title}${t.dependencies.length > 0 ? ` (after ${t.dependencies.join(', ')})` : ''}`,
  );
  return [
    `a person reviewed it and asked for this change: ${note}`,
    `The plan was: ${run.doc.planSummary ?? ''}`,
    ...tasks,
  ].join('\n');
}

export function cancelRun(run: Run): void {
  if (FINISHED_RUN_STATUSES.has(run.status)) return;
  if (run.actor.getSnapshot().matches('rollingBack'))
    throw new OrcError('INVALID_STATE', `run ${run.id} is rolling back; cancel it once it is done`);
  run.actor.send({ type: 'run.cancel' });
}

/**
 * `maxTaskCostUsd`: the run's cap on a task's cost (`execution.max_task_cost_usd`) becomes this first. A
 * retry that the cap would fail at once is refused, with that fix: it would reopen the run, fail the task
 * again and pay for the run's final review again, every time.
 */
export function retryTask(run: Run, taskId: string, options: { maxTaskCostUsd?: number } = {}): void {
  run.assertChangeable('retry the task');
  const task = run.taskRecord(taskId);
  if (run.status === 'cancelled')
    throw new OrcError('INVALID_STATE', `run ${run.id} was cancelled; start a new run`);
  if (!run.tasks.can(taskId, { type: 'task.retry' })) {
    throw new OrcError(
      'INVALID_STATE',
      `task ${taskId} is ${task.status}; only a failed, blocked, skipped or cancelled task can be retried`,
    );
  }
  const { maxTaskCostUsd } = options;
  const cap = run.budget.taskLimit;
  // Refused, not taken: a figure under the cap (advice given before a raise for another task) would lower
  // it for every task without a word, and a task stopped under the old cap would stop again.
  if (maxTaskCostUsd !== undefined && cap !== undefined && maxTaskCostUsd < cap - 1e-6)
    throw new OrcError(
      'INVALID_STATE',
      `--task-budget ${String(maxTaskCostUsd)} is under the run's cost cap of a task (${formatCost(cap)}) and would lower it for every task; orc retry ${run.id} ${taskId} runs it within ${formatCost(cap)} (a run's cap is only raised: set execution.max_task_cost_usd lower for a new run)`,
    );
  // The figure just asked is named as asked, not as the run's cap ("of a $0.002 cap" read as the run's).
  const refusal = run.budget.retryRefusal(
    run.id,
    task,
    maxTaskCostUsd ?? run.config.execution.max_task_cost_usd,
    maxTaskCostUsd !== undefined,
  );
  if (refusal !== undefined) throw new OrcError('INVALID_STATE', refusal);
  if (maxTaskCostUsd !== undefined) {
    // Its own copy: the configuration object may be the daemon's, shared with other runs.
    run.config = {
      ...run.config,
      execution: { ...run.config.execution, max_task_cost_usd: maxTaskCostUsd },
    };
    run.doc.config = storedConfig(run.config);
    run.budget.setTaskLimit(maxTaskCostUsd);
    run.emit({ type: 'run.task_budget_set', limitUsd: maxTaskCostUsd });
    reviseCappedErrors(run, taskId);
  }
  if (run.doc.heldTasks) delete run.doc.heldTasks[taskId];
  run.budget.retried(taskId);
  // The reason goes into the journal, so a report tells a person's retry from the engine's own.
  run.tasks.send(taskId, { type: 'task.retry' }, 'retried by a person');
  if (run.scheduler.graph.waitingFor(taskId) === 0) run.scheduler.unblock([taskId]);
  reopenIfFinished(run);
  resumeIfReleased(run);
  run.save();
  run.scheduler.dispatch();
}

/**
 * The run's cap changed: each other task stopped at the cap says anew what a retry needs, a plain retry
 * where the cap is enough now (`orc show` and the screen read its error; the inbox revises its item).
 */
function reviseCappedErrors(run: Run, retried: string): void {
  for (const row of [...run.tasks.rows()]) {
    if (row.id === retried || (row.status !== 'failed' && row.status !== 'blocked')) continue;
    const task = run.tasks.get(row.id);
    const error = task && run.budget.revisedError(task);
    if (error === undefined) continue;
    run.tasks.send(row.id, { type: 'task.error_revised', error });
    run.emit({ type: 'task.error_revised', taskId: row.id, error });
  }
}

export function skipTask(run: Run, taskId: string): void {
  run.assertChangeable('skip the task');
  const task = run.taskRecord(taskId);
  if (!run.tasks.can(taskId, { type: 'task.skip', at: '' })) {
    throw new OrcError(
      'INVALID_STATE',
      `task ${taskId} is ${task.status}; a running or finished task cannot be skipped`,
    );
  }
  run.tasks.send(taskId, { type: 'task.skip', at: isoAt(run.deps.clock) });
  // Skipping what made a run fail lets its dependents go on; a run held for a task a person cancelled goes on.
  reopenIfFinished(run);
  resumeIfReleased(run);
  run.save();
  run.scheduler.dispatch();
}

/**
 * A finished run given more work by a retry or a skip executes again (how it ended no longer holds); so
 * does one writing its final review (the review would be of a run that is not over).
 */
function reopenIfFinished(run: Run): void {
  if (!finishedOrReviewing(run)) return;
  run.actor.send({ type: 'run.reopen' });
}

/**
 * Waits while the run settles (its last merges land and its write-backs catch up, moments before the
 * final review), so that a person's retry, skip or edit then meets a run that takes it rather than a
 * refusal to try again. Called before the change's checks; the state after it is the one checked.
 */
export async function untilSettled(run: Run): Promise<void> {
  if (run.actor.getSnapshot().matches('settling')) await waitFor(run.actor, (s) => !s.matches('settling'));
}

/** `checkpointRef`: the checkpoint's id or its label; the outcome names its id. */
export async function rollbackRun(
  run: Run,
  checkpointRef: string,
  strategy: RollbackStrategy,
  taskIds: string[] | undefined,
): Promise<RollbackOutcome & { checkpointId: string }> {
  const checkpointId = run.checkpoints.resolve(checkpointRef);
  if (run.status === 'analyzing' || run.status === 'cancelled')
    throw new OrcError('INVALID_STATE', `run ${run.id} is ${run.status}; it cannot be rolled back`);
  run.assertChangeable('roll it back');
  // The review would be of a run the rollback gives work again: it is not interrupted for it.
  if (run.actor.getSnapshot().matches('reviewing'))
    throw new OrcError(
      'INVALID_STATE',
      `run ${run.id} is writing its final review; roll it back once it has finished`,
    );
  if (strategy === 'selective' && (!taskIds || taskIds.length === 0))
    throw new OrcError('INVALID_STATE', 'a selective rollback needs --tasks with the tasks to reset');
  if (strategy !== 'selective' && taskIds !== undefined)
    throw new OrcError(
      'INVALID_STATE',
      `a ${strategy} rollback resets every task; --tasks goes with selective`,
    );
  for (const id of taskIds ?? []) run.taskRecord(id);
  if (run.status === 'completed' || run.status === 'failed') {
    // A finished run that the rollback would give no work stays as it was: nothing to do, nothing to undo.
    const saved = await run.checkpoints.read(checkpointId);
    const outcome = applyRollback(strategy, [...run.tasks.values()], saved.tasks, taskIds ?? []);
    if (outcome.reset.length === 0) return { checkpointId, reset: [], kept: outcome.kept };
  }
  // The state before it, kept so the rollback can itself be undone; taken before the rollback begins, so
  // a rollback finished after a crash does not take it again (of a repository already reset).
  await run.checkpoints.create('before-rollback', `before rollback to ${checkpointId}`);
  return { checkpointId, ...(await requestRollback(run, { checkpointId, strategy, tasks: taskIds })) };
}

/**
 * Hands a rollback request to the run actor and waits for it to end, the rollback in the journal; its
 * failure is the caller's.
 */
async function requestRollback(run: Run, request: RollbackRequest): Promise<RollbackOutcome> {
  const before = run.rollingBack;
  run.actor.send({ type: 'run.rollback', ...request });
  const preparing = run.rollingBack;
  if (preparing === before || preparing === undefined)
    throw new OrcError('INVALID_STATE', `run ${run.id} is ${run.status}; it cannot be rolled back now`);
  const plan = await preparing;
  await waitFor(run.actor, (s) => !s.matches('rollingBack'));
  if (run.actor.getSnapshot().matches('closing'))
    throw new OrcError(
      'INVALID_STATE',
      `the daemon stopped while run ${run.id} was rolling back; the rollback finishes once it is back`,
    );
  await run.journal.drain();
  return { reset: plan.reset, kept: plan.kept };
}
