import {
  FINISHED_RUN_STATUSES,
  OrcError,
  type NewTask,
  type PlanEditOrigin,
  type PlanEditResult,
  type RemoveDependents,
  type TaskChanges,
  type TaskRecord,
  type TaskSpec,
} from '@orc/shared';
import { isoAt } from '../clock.js';
import { checkCancel, checkChanges, checkNewTasks, dependentsOf, tasksToRemove } from './plan-edit-checks.js';
import type { Run } from './run.js';

/**
 * What people do to a running plan (run-control's part for the task list), checked first: add tasks,
 * change one, remove one, cancel one. An edit is checked whole before anything changes (plan-edit-checks),
 * then applied in one turn of the daemon: journalled as one event (`plan.tasks_added`, `task.edited`,
 * `plan.tasks_removed`) that every client and a restore fold alike, each record changed by an event to its
 * task actor, and the scheduler's graph made again from the records.
 *
 * Where the issue is silent:
 * - a finished run (completed or failed) given work by an edit executes again, as a retry makes it, and so
 *   does one writing its final review (the review is written again at the new end); a cancelled run is
 *   refused (start a new one); a run still planning or waiting for its plan's approval is refused (answer
 *   the plan instead);
 * - a done task cannot be edited, removed or cancelled: its work stands; a dependency on it is fine;
 * - a cancelled task is held until a person edits, retries, skips or removes it, and so is the run once
 *   nothing else can run (whether tasks wait for it or not); an edit sends it back to waiting;
 * - cancelling a task that is not running (waiting, ready, blocked) holds it the same way.
 */

export function addTasks(
  run: Run,
  added: readonly NewTask[],
  origin: PlanEditOrigin = 'person',
): PlanEditResult {
  assertPlanEditable(run, 'add tasks');
  const scheme = run.source?.kind === 'taskmaster' ? 'numbers' : 'names';
  const floor = run.deps.source?.highestId?.() ?? 0;
  const specs = checkNewTasks(run.id, run.tasks, run.tasks.size, added, scheme, floor);
  run.emit({ type: 'plan.tasks_added', tasks: specs, origin });
  run.tasks.add(specs.map((spec) => ({ ...spec, status: 'pending' as const, attempts: [], reworks: 0 })));
  applied(run);
  return result(run, { added: specs.map((spec) => spec.id) });
}

/**
 * Tasks a person added at the run's source (`task-master add-task`) while it runs: added as through orc,
 * and not written back. A finished run leaves them for the next run; a refusal is logged (the file is
 * looked at again when it next changes).
 */
export function addFromSource(run: Run, specs: readonly TaskSpec[]): void {
  if (FINISHED_RUN_STATUSES.has(run.status)) return;
  try {
    addTasks(run, specs, 'source');
  } catch (error) {
    run.deps.logger.warn(
      { runId: run.id, tasks: specs.map((spec) => spec.id), err: error },
      'tasks added to Task Master could not be added to the run',
    );
  }
}

export function updateTask(
  run: Run,
  taskId: string,
  changes: TaskChanges,
  origin: PlanEditOrigin = 'person',
): PlanEditResult {
  assertPlanEditable(run, 'edit the task');
  checkChanges(run.id, run.tasks, taskId, changes);
  const waits = (changes.dependencies ?? []).some((dep) => !letsDependentsGo(run, dep));
  const event = { type: 'task.edit' as const, changes, waits };
  // The checks above cover every status the machine refuses; this is the machine's own word on it.
  if (!run.tasks.can(taskId, event))
    throw new OrcError(
      'INVALID_STATE',
      `task ${taskId} is ${run.taskRecord(taskId).status}; it cannot be edited now`,
    );
  run.emit({ type: 'task.edited', taskId, changes, origin });
  run.tasks.send(taskId, event, 'edited by a person');
  if (run.doc.heldTasks && run.taskRecord(taskId).status === 'pending') delete run.doc.heldTasks[taskId];
  // Only who waits for whom and the ready order live in the graph: a new title or description leaves it
  // as it is (10,000 tasks: a rebuild ~60-280 ms on the shared 2-core machine, this ~1 ms).
  if (changes.dependencies !== undefined || changes.priority !== undefined) applied(run);
  else {
    if (run.scheduler.graph.waitingFor(taskId) === 0) run.scheduler.unblock([taskId]);
    applied(run, false);
  }
  return result(run, { changed: [taskId] });
}

export function removeTask(
  run: Run,
  taskId: string,
  dependents: RemoveDependents,
  origin: PlanEditOrigin = 'person',
): PlanEditResult {
  assertPlanEditable(run, 'remove the task');
  const removed = tasksToRemove(run.id, run.tasks, taskId, dependents);
  const gone = new Set(removed);
  const waiting = dependentsOf(run.tasks);
  const kept = [...gone].flatMap((id) => waiting.get(id) ?? []).filter((id) => !gone.has(id));
  run.emit({ type: 'plan.tasks_removed', taskIds: removed, origin });
  for (const id of new Set(kept)) run.tasks.send(id, { type: 'task.unlink', removed });
  run.tasks.remove(removed);
  for (const id of removed) delete run.doc.heldTasks?.[id];
  applied(run);
  return result(run, { removed, changed: [...new Set(kept)] });
}

/**
 * Stops the task's attempt, if it has one, and holds it until a person edits or retries it; what waits
 * for it waits on. A task cancelled already is left as it is.
 */
export function cancelTask(run: Run, taskId: string): PlanEditResult {
  run.assertChangeable('cancel the task');
  if (run.status === 'cancelled') throw new OrcError('INVALID_STATE', `run ${run.id} was cancelled already`);
  const task = checkCancel(run.id, run.tasks, taskId);
  if (task === undefined) return result(run, {});
  if (task.worker !== undefined && (task.status === 'running' || task.status === 'reviewing'))
    run.scheduler.pool.release(task.worker);
  run.tasks.send(taskId, { type: 'task.cancel', at: isoAt(run.deps.clock) }, 'cancelled by a person');
  // A run held already is held by this one too: it says so.
  resumeIfReleased(run);
  run.save();
  run.scheduler.dispatch();
  return result(run, { changed: [taskId] });
}

/** Whether a task lets what waits for it go on: done, or skipped once its own dependencies let it. */
function letsDependentsGo(run: Run, id: string): boolean {
  const status = run.tasks.get(id)?.status;
  return status === 'done' || (status === 'skipped' && run.scheduler.graph.waitingFor(id) === 0);
}

/**
 * The plan changed: the graph follows (made again from the records when `reshaped`), what waits for nothing
 * is queued, a finished run given work reopens, a run that waited for held tasks goes on.
 */
function applied(run: Run, reshaped = true): void {
  if (reshaped) run.scheduler.reschedule();
  const hasWork = finishedOrReviewing(run) && [...run.tasks.values()].some(waitsToRun);
  if (hasWork) run.actor.send({ type: 'run.reopen' });
  resumeIfReleased(run);
  run.save();
  run.scheduler.dispatch();
}

/** Whether the run has ended, or is about to with its final review: work given to it reopens it. */
export function finishedOrReviewing(run: Run): boolean {
  return (
    run.status === 'completed' || run.status === 'failed' || run.actor.getSnapshot().matches('reviewing')
  );
}

/**
 * A run paused because its work waited for tasks a person held goes on by itself once that no longer
 * holds (the task was edited, retried or removed) or new work is ready. Held still, by fewer tasks (one
 * of them skipped or removed), it says so afresh: its pause and its inbox item named the task let go
 * (a trial's item read "tasks t1, t5, … wait for you" after t5 was skipped).
 */
export function resumeIfReleased(run: Run): void {
  if (run.pauseReason !== 'held') return;
  const held = run.scheduler.heldByPerson();
  if (run.scheduler.graph.readyCount > 0 || held === undefined) run.actor.send({ type: 'run.resume' });
  else if (held !== run.actor.getSnapshot().context.pause?.message)
    run.actor.send({ type: 'run.held', message: held });
}

function waitsToRun(task: TaskRecord): boolean {
  return task.status === 'pending' || task.status === 'ready';
}

/** What a person may not edit now: a run rolling back or landing its last work, cancelled, or still planning. */
function assertPlanEditable(run: Run, action: string): void {
  run.assertChangeable(action);
  switch (run.status) {
    case 'cancelled':
      throw new OrcError('INVALID_STATE', `run ${run.id} was cancelled; start a new run`);
    case 'analyzing':
      throw new OrcError('INVALID_STATE', `run ${run.id} is still being planned; ${action} once it runs`);
    case 'awaiting_approval':
      throw new OrcError(
        'INVALID_STATE',
        `run ${run.id}'s plan waits for approval; answer it (orc inbox) with the change, or ${action} once it runs`,
      );
    default:
  }
}

function result(run: Run, edit: Partial<Omit<PlanEditResult, 'run'>>): PlanEditResult {
  return {
    run: run.summary(),
    added: edit.added ?? [],
    changed: edit.changed ?? [],
    removed: edit.removed ?? [],
  };
}
