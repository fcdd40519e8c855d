import type { OrcEvent } from './events.js';
import type { Rating } from './feedback.js';
import type { FinalReview } from './plan.js';
import {
  FINISHED_RUN_STATUSES,
  trackDowntime,
  trackIdle,
  type PauseReason,
  type RunModels,
  type RunStatus,
} from './run.js';
import { addedTask, foldTaskEvent, plannedTasks, restoredTask, withoutRemoved } from './task-fold.js';
import type { TaskRecord, Usage } from './task.js';

/**
 * What the journal tells of a run: the fields a client's view (`runs.get`) and the daemon's run document
 * share. Both are folded from the events by `RunFold`, so the semantics of an event live once.
 */
export interface FoldedRun {
  goal: string;
  status: RunStatus;
  pauseReason?: PauseReason | undefined;
  /** What the pause says to a person (why the disk takes no writes, the checkpoint a rollback goes to, …). */
  pauseMessage?: string | undefined;
  resumeAt?: string | undefined;
  /** The model a quota pause waits for. */
  quotaModel?: string | undefined;
  models: RunModels;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string | undefined;
  /** Time it did no work (see `trackIdle`). */
  idleMs?: number | undefined;
  idleSince?: string | undefined;
  planSummary?: string | undefined;
  finalReview?: FinalReview | undefined;
  error?: string | undefined;
  usage: Usage;
  costUsd: number;
  lastEventId: number;
  tasks: TaskRecord[];
  /** People's ratings, oldest first: the run's, so a rollback leaves them as they were. */
  ratings?: Rating[] | undefined;
}

/**
 * Folds a run's events, in order, into a run (changed in place: pass a copy to keep the original). A
 * task record is replaced when it changes, never changed in place, so records shared with an earlier
 * copy stay as they were. Each event's `at` stamps what it changes; `spent` carries the run's totals.
 */
export class RunFold<R extends FoldedRun = FoldedRun> {
  private index = new Map<string, number>();
  /** Whether a task was added, removed or replaced since the fold began. */
  tasksChanged = false;
  /** A rollback whose records the event did not carry (an older journal): fetch the run again. */
  incomplete = false;

  constructor(readonly run: R) {
    this.reindex();
  }

  task(id: string): TaskRecord | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.run.tasks[i];
  }

  /** Where the task is in the run's task list; undefined when the run has no such task. */
  placeOf(id: string): number | undefined {
    return this.index.get(id);
  }

  apply(event: OrcEvent): void {
    const { run } = this;
    run.lastEventId = event.id;
    run.updatedAt = event.at;
    if (event.spent !== undefined) {
      run.usage = event.spent.usage;
      run.costUsd = event.spent.costUsd;
    }
    if ('taskId' in event) {
      const task = this.task(event.taskId);
      if (task !== undefined) this.replace(task, foldTaskEvent(task, event));
      return;
    }
    switch (event.type) {
      case 'run.created':
        run.goal = event.goal;
        run.models = event.models;
        run.createdAt = event.at;
        return;
      case 'run.planned':
        run.planSummary = event.summary;
        this.replaceAll(plannedTasks(event.tasks, new Map(run.tasks.map((task) => [task.id, task]))));
        return;
      case 'run.status':
        this.setStatus(event.status, event.at);
        return;
      case 'run.paused':
        this.setStatus('paused', event.at);
        run.pauseReason = event.reason;
        if (event.message !== undefined) run.pauseMessage = event.message;
        else delete run.pauseMessage;
        if (event.resumeAt !== undefined) run.resumeAt = event.resumeAt;
        else delete run.resumeAt;
        if (event.model !== undefined) run.quotaModel = event.model;
        else delete run.quotaModel;
        return;
      case 'run.completed':
        this.setStatus('completed', event.at);
        run.finalReview = event.review;
        run.finishedAt = event.at;
        return;
      case 'run.failed':
        this.setStatus('failed', event.at);
        run.error = event.error;
        if (event.review !== undefined) run.finalReview = event.review;
        run.finishedAt = event.at;
        return;
      case 'run.cancelled':
        this.setStatus('cancelled', event.at);
        run.finishedAt = event.at;
        return;
      case 'run.restored': {
        if (event.lastAliveAt !== undefined && !FINISHED_RUN_STATUSES.has(run.status))
          trackDowntime(run, event.lastAliveAt, event.at);
        const interrupted = new Set(event.interruptedTasks);
        run.tasks.forEach((task) =>
          this.replace(
            task,
            restoredTask(task, interrupted.has(task.id), event.at, event.lastAliveAt ?? event.at),
          ),
        );
        return;
      }
      case 'run.rollback_started':
        // The run waits for a person while it rolls back, and after (the pause that comes with it may
        // be told before or not at all: the run was paused already).
        this.setStatus('paused', event.at);
        run.pauseReason = 'rollback';
        run.pauseMessage = rollingBackMessage(event.checkpointId);
        delete run.resumeAt;
        delete run.quotaModel;
        return;
      case 'run.rollback_failed':
        // Nothing changed; the run waits for a person.
        run.pauseMessage = rolledBackMessage(event.checkpointId, false);
        return;
      case 'run.rolled_back':
        run.pauseMessage = rolledBackMessage(event.checkpointId, true);
        if (event.planSummary !== undefined) run.planSummary = event.planSummary;
        if (event.tasks === undefined) {
          // An older journal: the restored records are not in it. Until they are fetched, the reset
          // tasks show as waiting to run.
          this.incomplete = true;
          for (const id of event.resetTasks) {
            const task = this.task(id);
            if (task) this.replace(task, waiting(task));
          }
        } else if (event.allTasks === true) {
          this.replaceAll(event.tasks);
        } else {
          for (const record of event.tasks) {
            const task = this.task(record.id);
            if (task) this.replace(task, record);
          }
        }
        return;
      case 'plan.tasks_added':
        this.replaceAll([...run.tasks, ...event.tasks.map(addedTask)]);
        return;
      case 'plan.tasks_removed':
        this.replaceAll(withoutRemoved(run.tasks, new Set(event.taskIds)));
        return;
      case 'feedback.rated':
        run.ratings = [...(run.ratings ?? []), event.rating];
        return;
      case 'run.planning':
      case 'run.plan_rejected':
      case 'run.resumed':
      case 'run.budget_exceeded':
      case 'run.budget_would_exceed':
      case 'run.budget_set':
      case 'run.task_budget_set':
      case 'run.concurrency':
      case 'run.integrated':
      case 'run.plan_answered':
      case 'checkpoint.created':
      case 'train.verifying':
      case 'train.verified':
      case 'train.landed':
        // The merge train is the live run's, not its document's: a client's view follows it (viewOnly).
        return;
    }
  }

  /** Replaces every task (a plan, a rollback to another task list). */
  replaceAll(tasks: TaskRecord[]): void {
    this.run.tasks = tasks;
    this.tasksChanged = true;
    this.reindex();
  }

  private replace(task: TaskRecord, next: TaskRecord): void {
    if (next === task) return;
    this.run.tasks[this.index.get(task.id)!] = next;
    this.tasksChanged = true;
  }

  /** The run's status; one that leaves a finished status reopens it, and only a pause has a reason. */
  private setStatus(status: RunStatus, at: string): void {
    const { run } = this;
    trackIdle(run, run, status, at);
    if (FINISHED_RUN_STATUSES.has(run.status) && !FINISHED_RUN_STATUSES.has(status)) {
      delete run.finishedAt;
      delete run.error;
      delete run.finalReview;
    }
    if (status !== 'paused') {
      delete run.pauseReason;
      delete run.pauseMessage;
      delete run.resumeAt;
      delete run.quotaModel;
    }
    run.status = status;
  }

  private reindex(): void {
    // In a loop, not from an array of pairs: 100,000 of them, made and dropped, at each restore.
    const index = new Map<string, number>();
    const { tasks } = this.run;
    for (let i = 0; i < tasks.length; i++) index.set(tasks[i]!.id, i);
    this.index = index;
  }
}

/** The status an event moves its run to, for `trackIdle`; undefined when it moves none. */
export function statusToldBy(event: OrcEvent): RunStatus | undefined {
  switch (event.type) {
    case 'run.status':
      return event.status;
    case 'run.paused':
    case 'run.rollback_started':
      return 'paused';
    case 'run.completed':
      return 'completed';
    case 'run.failed':
      return 'failed';
    case 'run.cancelled':
      return 'cancelled';
    default:
      return undefined;
  }
}

/** What a run rolling back says to a person while it waits. */
export function rollingBackMessage(checkpointId: string): string {
  return `rolling back to ${checkpointId}`;
}

/** What a run paused after a rollback says: where it went, or that it failed and nothing changed. */
export function rolledBackMessage(checkpointId: string, done: boolean): string {
  return done
    ? `rolled back to ${checkpointId}; orc resume goes on`
    : `the rollback to ${checkpointId} failed and changed nothing; orc resume goes on as it was`;
}

/** A task a rollback reset, as far as an event without its record tells: waiting to run. */
function waiting(task: TaskRecord): TaskRecord {
  return {
    ...task,
    status: 'pending',
    result: undefined,
    error: undefined,
    worker: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    readyAt: undefined,
  };
}
