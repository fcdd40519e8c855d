import {
  FINISHED_RUN_STATUSES,
  ZERO_USAGE,
  type Attempt,
  type ResolvedConfig,
  type TaskRecord,
  type TaskSpec,
} from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt } from '../clock.js';
import type { RunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import { applyAgentEvent } from './agent-attempts.js';
import type { RunBudget } from './run-budget.js';
import { Run, type RunDeps } from './run.js';

/**
 * Brings a persisted run back (its configuration checked against the schema by the caller): results journalled after
 * the document was last saved applied, attempts that were in flight made new ones, and its actor
 * restored from its snapshot; a run that was executing goes on by itself.
 */
export async function restoreRun(deps: RunDeps, doc: RunDocument, config: ResolvedConfig): Promise<Run> {
  const run = await Run.fromDocument(deps, doc, config);
  await catchUpFromJournal(deps.store, doc, run.budget, deps.logger);
  const interrupted = requeueInterrupted(doc.tasks, isoAt(deps.clock));
  // The budget predicts the next attempt's cost from those before the restart too.
  for (const task of doc.tasks) for (const attempt of task.attempts) run.budget.countAttempt(attempt.costUsd);
  // A run killed before its first save has no snapshot yet: it starts over (imported tasks are kept).
  const imported = doc.importedTasks && doc.runSnapshot === undefined ? doc.tasks.map(specOf) : undefined;
  run.adoptTasks();
  run.scheduler.reschedule();
  // Sessions cut off by the crash go on in their worktrees; the other worktrees go, their work kept.
  await run.scheduler.attempts.restore(run.tasks.values());
  if (!FINISHED_RUN_STATUSES.has(doc.status))
    run.emit({ type: 'run.restored', interruptedTasks: interrupted });
  run.start(doc.runSnapshot, imported);
  return run;
}

/**
 * The daemon can die after an event is in the journal and before a document with its change is saved.
 * What the journal holds past the document is applied to the document's task records: results and
 * failures, attempts begun, failed and reviewed, and what finished attempts cost, so the run's spend
 * survives the crash with its results. A rollback past the document ends the catch-up: the tasks after
 * it are not these records. The records are changed in place, before any task actor is made from them.
 */
export async function catchUpFromJournal(
  store: RunStore,
  doc: RunDocument,
  budget: RunBudget,
  logger: Logger,
): Promise<void> {
  const tasks = new Map(doc.tasks.map((task) => [task.id, task]));
  for await (const event of store.readEvents(doc.id, doc.lastEventId)) {
    if (event.type === 'run.rolled_back') {
      logger.warn(
        { runId: doc.id, eventId: event.id },
        'the journal has a rollback the saved run does not; later task events are not applied',
      );
      return;
    }
    const task = 'taskId' in event ? tasks.get(event.taskId) : undefined;
    if (!task) continue;
    switch (event.type) {
      case 'task.assigned':
        attemptOf(task, event.attempt, event.worker, event.at);
        break;
      case 'task.attempt_failed': {
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        if (attempt.outcome === 'running') {
          attempt.outcome = 'failed';
          attempt.error = event.error;
          attempt.endedAt = event.at;
        }
        break;
      }
      case 'task.reviewed':
        attemptOf(task, event.attempt, task.worker ?? 0, event.at).review = event.review;
        break;
      case 'task.session':
      case 'task.tool_refused':
        applyAgentEvent(attemptOf(task, event.attempt, task.worker ?? 0, event.at), event);
        break;
      case 'task.completed': {
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        Object.assign(attempt, budget.recover(attempt, event.usage, event.costUsd));
        attempt.outcome = 'succeeded';
        attempt.endedAt ??= event.at;
        attempt.output = undefined;
        task.status = 'done';
        task.result = event.result;
        task.finishedAt = event.at;
        task.worker = undefined;
        task.error = undefined;
        task.feedback = undefined;
        break;
      }
      case 'task.failed':
        task.status = 'failed';
        task.error = event.error;
        task.finishedAt = event.at;
        task.worker = undefined;
        break;
      default:
        // Statuses on the way (running, reviewing) are undone by the restore anyway. A retry or a skip
        // made after the last save is not replayed: it may have reopened a finished run, and the run's
        // own state comes from the saved snapshot, so replaying the task's half would split the two.
        break;
    }
  }
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

/** The task's attempt number `n`; one begun in the journal only is added, as running. */
function attemptOf(task: TaskRecord, n: number, worker: number, at: string): Attempt {
  let attempt = task.attempts.find((a) => a.n === n);
  if (attempt === undefined) {
    attempt = { n, worker, startedAt: at, outcome: 'running', usage: ZERO_USAGE, costUsd: 0 };
    task.attempts.push(attempt);
    task.attempts.sort((a, b) => a.n - b.n);
  }
  return attempt;
}
