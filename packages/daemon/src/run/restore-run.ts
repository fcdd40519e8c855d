import {
  FINISHED_RUN_STATUSES,
  hasAnswerToReview,
  IN_FLIGHT_STATUSES,
  restoredTask,
  type ResolvedConfig,
  type TaskRecord,
  type TaskSpec,
} from '@orc/shared';
import { isoAt } from '../clock.js';
import { TaskText, recordOfTask, type DocumentTask, type KeptRunDocument } from '../store/run-document.js';
import { Run, type RunDeps } from './run.js';

/**
 * Brings a persisted run back: its document, caught up with the journal by the loader (run-loader.ts)
 * and its configuration checked against the schema by the caller. Attempts that were in flight were cut
 * off: their tasks go back to the queue, as `run.restored` tells. The run actor is restored from its
 * snapshot; a run that was executing goes on by itself.
 */
export async function restoreRun(
  deps: RunDeps,
  doc: KeptRunDocument,
  config: ResolvedConfig,
  /** Until when the daemon before was alive (`alive-mark.ts`), when it left a mark. */
  aliveUntil?: number,
): Promise<Run> {
  const run = await Run.fromDocument(deps, doc, config);
  const finished = FINISHED_RUN_STATUSES.has(doc.status);
  const at = isoAt(deps.clock);
  // When the daemon was last known alive for the run: its last journalled event (the loader caught the
  // document up with the journal, so `updatedAt` is that event's time). Worker output is journalled as it
  // streams, so an agent at work is cut off within moments of a kill -9; a silent one may be cut off
  // early, but an attempt's time never counts the daemon's downtime (a trial's read 15s for 2s of work).
  // No heartbeat a run: one would cost a write a run every few seconds for what output already tells. The
  // daemon's own mark of life says when it was killed, when it was: counted from the last event only, a
  // run's working time stepped back by the seconds it had worked since, as `orc ls` had shown them.
  const marked = aliveUntil === undefined ? undefined : new Date(aliveUntil).toISOString();
  const known = marked !== undefined && marked > doc.updatedAt ? marked : doc.updatedAt;
  const lastAliveAt = known < at ? known : at;
  const interrupted = finished
    ? []
    : doc.tasks.filter((t) => IN_FLIGHT_STATUSES.has(t.status)).map((t) => t.id);
  if (!finished) {
    // Nothing runs in a process that just started, as the fold of `run.restored` has it.
    const cut = new Set(interrupted);
    // A settled task kept as its text was in flight no more when it was written.
    doc.tasks = doc.tasks.map((task) =>
      task instanceof TaskText ? task : restoredTask(task, cut.has(task.id), at, lastAliveAt),
    );
  }
  // The budget predicts the next attempt's cost from those before the restart too.
  for (const task of doc.tasks) {
    const costs = task instanceof TaskText ? task.attemptCosts : task.attempts.map((a) => a.costUsd);
    for (const cost of costs) run.budget.countAttempt(cost);
  }
  // A run killed before its first save has no snapshot yet: it starts over (imported tasks are kept).
  const imported =
    doc.importedTasks && doc.runSnapshot === undefined
      ? doc.tasks.map((task) => specOf(recordOfTask(task)))
      : undefined;
  run.adoptTasks(doc.tasks);
  run.scheduler.reschedule();
  // Sessions cut off by the crash go on in their worktrees; the other worktrees go, their work kept.
  // Only a task waiting to run again can have one: settled tasks kept as text are not parsed for it.
  await run.scheduler.attempts.restore(recordsOf(run.tasks.rows()));
  if (!finished) {
    // A task cut off in review keeps its answer: only the review is made again (the task machine's
    // `awaitsReview`), and the event says so apart from the tasks that run again.
    const reviewAgain = interrupted.filter((id) => {
      const task = run.tasks.get(id);
      return task !== undefined && hasAnswerToReview(task);
    });
    run.emit({ type: 'run.restored', interruptedTasks: interrupted, reviewAgain, lastAliveAt }, at);
  }
  run.start(doc.runSnapshot, imported);
  return run;
}

function* recordsOf(tasks: Iterable<DocumentTask>): Generator<TaskRecord> {
  for (const task of tasks) if (!(task instanceof TaskText)) yield task;
}

function specOf(task: TaskRecord): TaskSpec {
  return {
    id: task.id,
    title: task.title,
    description: task.description,
    dependencies: task.dependencies,
    priority: task.priority,
    ...(task.details !== undefined && { details: task.details }),
  };
}
