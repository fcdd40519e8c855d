import {
  FINISHED_RUN_STATUSES,
  IN_FLIGHT_STATUSES,
  restoredTask,
  type ResolvedConfig,
  type TaskRecord,
  type TaskSpec,
} from '@orc/shared';
import { isoAt } from '../clock.js';
import type { RunDocument } from '../store/run-document.js';
import { Run, type RunDeps } from './run.js';

/**
 * Brings a persisted run back: its document, caught up with the journal by the loader (run-loader.ts)
 * and its configuration checked against the schema by the caller. Attempts that were in flight were cut
 * off: their tasks go back to the queue, as `run.restored` tells. The run actor is restored from its
 * snapshot; a run that was executing goes on by itself.
 */
export async function restoreRun(deps: RunDeps, doc: RunDocument, config: ResolvedConfig): Promise<Run> {
  const run = await Run.fromDocument(deps, doc, config);
  const finished = FINISHED_RUN_STATUSES.has(doc.status);
  const at = isoAt(deps.clock);
  const interrupted = finished
    ? []
    : doc.tasks.filter((t) => IN_FLIGHT_STATUSES.has(t.status)).map((t) => t.id);
  if (!finished) {
    // Nothing runs in a process that just started, as the fold of `run.restored` has it.
    const cut = new Set(interrupted);
    doc.tasks = doc.tasks.map((task) => restoredTask(task, cut.has(task.id), at));
  }
  // The budget predicts the next attempt's cost from those before the restart too.
  for (const task of doc.tasks) for (const attempt of task.attempts) run.budget.countAttempt(attempt.costUsd);
  // A run killed before its first save has no snapshot yet: it starts over (imported tasks are kept).
  const imported = doc.importedTasks && doc.runSnapshot === undefined ? doc.tasks.map(specOf) : undefined;
  run.adoptTasks();
  run.scheduler.reschedule();
  // Sessions cut off by the crash go on in their worktrees; the other worktrees go, their work kept.
  await run.scheduler.attempts.restore(run.tasks.values());
  if (!finished) run.emit({ type: 'run.restored', interruptedTasks: interrupted }, at);
  run.start(doc.runSnapshot, imported);
  return run;
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
