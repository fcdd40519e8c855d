import { FINISHED_RUN_STATUSES, type ResolvedConfig, type TaskRecord, type TaskSpec } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt } from '../clock.js';
import type { RunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import { DocumentFold } from './document-fold.js';
import { Run, type RunDeps } from './run.js';

/**
 * Brings a persisted run back (its configuration checked against the schema by the caller): the
 * document caught up with what its journal holds past it, attempts that were in flight made new ones
 * (or, when their answer is journalled, sent to their review), and its actor restored from its snapshot;
 * a run that was executing goes on by itself, one that was rolling back finishes the rollback.
 */
export async function restoreRun(deps: RunDeps, doc: RunDocument, config: ResolvedConfig): Promise<Run> {
  await catchUpFromJournal(deps.store, doc, deps.logger);
  const run = await Run.fromDocument(deps, doc, config);
  const interrupted = requeueInterrupted(doc.tasks, isoAt(deps.clock));
  // The budget predicts the next attempt's cost from those before the restart too.
  for (const task of doc.tasks) for (const attempt of task.attempts) run.budget.countAttempt(attempt.costUsd);
  run.tasks.replaceAll(doc.tasks);
  run.scheduler.reschedule();
  // Sessions cut off by the crash go on in their worktrees; the other worktrees go, their work kept.
  await run.scheduler.attempts.restore(run.tasks.values());
  if (!FINISHED_RUN_STATUSES.has(doc.status))
    run.emit({ type: 'run.restored', interruptedTasks: interrupted });
  // A run killed before its first snapshot has no snapshot yet: it starts over (imported tasks are kept).
  const imported = doc.importedTasks && doc.runSnapshot === undefined ? doc.tasks.map(specOf) : undefined;
  run.start(doc.runSnapshot, imported);
  return run;
}

/**
 * The daemon can die after an event is in the journal and before a document with its change is saved.
 * The events past the document are folded into it as a rebuild folds them (see DocumentFold): results,
 * answers waiting for review, attempts and what they cost, retries and skips, checkpoints, a rollback
 * done (or begun: the restored run finishes it), and the run's own state when it changed (a pause, a
 * quota's reset, the end). The document is changed in place, before anything is made from it.
 */
export async function catchUpFromJournal(store: RunStore, doc: RunDocument, logger: Logger): Promise<void> {
  const fold = new DocumentFold(doc);
  const from = doc.lastEventId;
  for await (const event of store.readEvents(doc.id, from)) {
    await fold.apply(event, (checkpointId) => store.readCheckpoint(doc.id, checkpointId));
  }
  fold.finish();
  if (doc.lastEventId > from)
    logger.info({ runId: doc.id, from, to: doc.lastEventId }, 'caught the run up with its journal');
}

/**
 * Nothing runs in a process that just started: attempts still marked running were cut off, and their
 * tasks go back to the queue. Returns the ids of those tasks.
 */
export function requeueInterrupted(tasks: readonly TaskRecord[], at: string): string[] {
  const interrupted: string[] = [];
  for (const task of tasks) {
    for (const attempt of task.attempts) {
      if (attempt.outcome === 'running') {
        attempt.outcome = 'interrupted';
        attempt.endedAt = at;
      }
    }
    if (task.status === 'running' || task.status === 'reviewing' || task.status === 'merging') {
      task.status = 'ready';
      task.worker = undefined;
      task.readyAt = at;
      interrupted.push(task.id);
    }
  }
  return interrupted;
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
