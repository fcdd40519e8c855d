import type { OrcEvent } from './events.js';
import { FINISHED_RUN_STATUSES, type RunView, type TaskCounts } from './run.js';
import { addUsage, type Attempt, type TaskRecord, type TaskStatus, ZERO_USAGE } from './task.js';

/**
 * Keeps a client's copy of a run current from its event stream: a client draws `runs.get` once, then
 * folds each event of `runs.events` into it. Pure: returns a new view and never touches the one given.
 * Events the view already reflects (id <= lastEventId) or of another run change nothing.
 *
 * A view of a large run holds a page of its tasks (`tasks.length < taskTotal`): events about tasks it
 * holds change them, and the counts follow every task's moves (`task.status` says what a task left). What
 * such a view cannot fold exactly, `wantsFreshView` names.
 */
export function applyEvent(view: RunView, event: OrcEvent): RunView {
  return applyEvents(view, [event]);
}

/**
 * Folds a batch of events with one copy of the task list, so a client that applies the events of a frame
 * together stays cheap on runs with thousands of tasks.
 */
export function applyEvents(view: RunView, events: readonly OrcEvent[]): RunView {
  let draft: Draft | undefined;
  for (const event of events) {
    if (event.runId !== view.id || event.id <= (draft?.view.lastEventId ?? view.lastEventId)) continue;
    draft ??= new Draft(view);
    draft.apply(event);
  }
  return draft ? draft.finish() : view;
}

/**
 * Events after which a client should fetch the view again: a rollback (the state it restored is not in
 * the event), and, for a view holding a page of the tasks, a new plan and a restart, which move tasks
 * it does not hold in ways the events do not spell out.
 */
export function wantsFreshView(view: RunView, event: OrcEvent): boolean {
  if (event.type === 'run.rolled_back') return true;
  return holdsPage(view) && (event.type === 'run.planned' || event.type === 'run.restored');
}

/** The view holds some of the run's tasks, not all of them. */
function holdsPage(view: RunView): boolean {
  return view.tasks.length < view.taskTotal;
}

/** A mutable copy of a view; a task is replaced when it changes, so unchanged ones stay shared. */
class Draft {
  readonly view: RunView;
  private readonly index = new Map<string, number>();
  private tasksChanged = false;
  /** The view holds a page: counts follow the moves, since the tasks cannot be counted. */
  private readonly page: boolean;

  constructor(source: RunView) {
    this.page = holdsPage(source);
    this.view = {
      ...source,
      tasks: [...source.tasks],
      usage: { ...source.usage },
      ...(this.page && { taskCounts: { ...source.taskCounts } }),
    };
    this.view.tasks.forEach((task, i) => this.index.set(task.id, i));
  }

  apply(event: OrcEvent): void {
    const view = this.view;
    view.lastEventId = event.id;
    view.updatedAt = event.at;
    // The run's own totals, every call counted; older journals lack them and add up task.completed.
    if ('spent' in event && event.spent !== undefined) {
      view.usage = event.spent.usage;
      view.costUsd = event.spent.costUsd;
      if (event.spent.forecast !== undefined) view.forecast = event.spent.forecast;
    }
    switch (event.type) {
      case 'run.created':
        view.goal = event.goal;
        view.models = event.models;
        view.maxWorkers = event.maxWorkers;
        return;
      case 'run.planning':
      case 'run.plan_rejected':
        if (view.status !== 'paused') view.status = 'analyzing';
        return;
      case 'run.planned':
        view.planSummary = event.summary;
        // A page stays as it is: the new tasks are fetched (see wantsFreshView).
        if (this.page) return;
        for (const spec of event.tasks) {
          if (this.index.has(spec.id)) continue;
          this.index.set(spec.id, view.tasks.length);
          view.tasks.push({ ...spec, status: 'pending', attempts: [], reworks: 0 });
        }
        this.tasksChanged = true;
        return;
      case 'run.status':
        this.setRunStatus(event.status, event.at);
        return;
      case 'run.paused':
        view.status = 'paused';
        view.pauseReason = event.reason;
        if (event.resumeAt !== undefined) view.resumeAt = event.resumeAt;
        else delete view.resumeAt;
        if (event.model !== undefined) view.quotaModel = event.model;
        else delete view.quotaModel;
        return;
      case 'run.resumed':
        if (view.status === 'paused') view.status = 'executing';
        delete view.pauseReason;
        delete view.resumeAt;
        delete view.quotaModel;
        return;
      case 'run.completed':
        view.finalReview = event.review;
        this.setRunStatus('completed', event.at);
        return;
      case 'run.failed':
        view.error = event.error;
        this.setRunStatus('failed', event.at);
        return;
      case 'run.cancelled':
        this.setRunStatus('cancelled', event.at);
        return;
      case 'run.restored':
        for (const id of event.interruptedTasks) {
          this.updateAttempt(
            id,
            (a) => a.outcome === 'running',
            (a) => ({ ...a, outcome: 'interrupted' }),
          );
          // The daemon put them back in the queue when it came back.
          this.updateTask(id, (task) => taskWithStatus(task, 'ready', event.at));
        }
        return;
      case 'run.rolled_back':
        // The restored state itself is not in the event: clients should fetch the run again. Until then the
        // reset tasks show as waiting to run.
        for (const id of event.resetTasks) {
          this.updateTask(id, (task) => withoutOutcome({ ...task, status: 'pending' }));
        }
        // A finished run reopens (paused) only when the rollback gave it work again.
        if (FINISHED_RUN_STATUSES.has(view.status) && event.resetTasks.length > 0) {
          view.status = 'paused';
          view.pauseReason = 'user';
          delete view.finishedAt;
        }
        return;
      case 'task.status':
        if (this.page) this.countMove(event.from ?? this.heldStatus(event.taskId), event.status);
        this.updateTask(event.taskId, (task) => taskWithStatus(task, event.status, event.at, event.reason));
        return;
      case 'task.assigned':
        this.updateTask(event.taskId, (task) => {
          const attempt: Attempt = {
            n: event.attempt,
            worker: event.worker,
            startedAt: event.at,
            outcome: 'running',
            usage: { ...ZERO_USAGE },
            costUsd: 0,
          };
          const attempts = [...task.attempts.filter((a) => a.n !== event.attempt), attempt];
          const next: TaskRecord = { ...task, status: 'running', worker: event.worker, attempts };
          next.startedAt ??= event.at;
          return next;
        });
        return;
      case 'task.attempt_failed':
        this.updateAttempt(
          event.taskId,
          (a) => a.n === event.attempt,
          (a) => ({ ...a, outcome: 'failed', error: event.error, endedAt: event.at }),
        );
        this.updateTask(event.taskId, (task) => ({ ...task, error: event.error.message }));
        return;
      case 'task.session':
        this.updateAttempt(
          event.taskId,
          (a) => a.n === event.attempt,
          (a) => ({
            ...a,
            sessionId: event.sessionId,
            ...(event.resumes !== undefined && { resumes: event.resumes }),
          }),
        );
        return;
      case 'task.tool_refused':
        this.updateAttempt(
          event.taskId,
          (a) => a.n === event.attempt,
          (a) => ({ ...a, refusals: [...(a.refusals ?? []), event.refusal] }),
        );
        return;
      case 'task.reviewed':
        this.updateAttempt(
          event.taskId,
          (a) => a.n === event.attempt,
          (a) => ({ ...a, review: event.review }),
        );
        if (event.review.verdict === 'rework') {
          this.updateTask(event.taskId, (task) => ({ ...task, reworks: task.reworks + 1 }));
        }
        return;
      case 'task.completed':
        this.updateAttempt(
          event.taskId,
          (a) => a.n === event.attempt,
          (a) => ({
            ...a,
            outcome: 'succeeded',
            output: event.result,
            usage: event.usage,
            costUsd: event.costUsd,
            endedAt: event.at,
          }),
        );
        this.updateTask(event.taskId, (task) => ({ ...task, result: event.result }));
        if (event.spent === undefined) {
          view.usage = addUsage(view.usage, event.usage);
          view.costUsd += event.costUsd;
        }
        return;
      case 'task.failed':
        this.updateTask(event.taskId, (task) => ({
          ...taskWithStatus(task, 'failed', event.at),
          error: event.error,
        }));
        return;
      case 'task.source_changed':
        this.updateTask(event.taskId, (task) => ({ ...task, sourceChange: event.change }));
        return;
      case 'worker.output':
      case 'checkpoint.created':
      case 'run.budget_exceeded':
      case 'run.budget_set':
      case 'run.concurrency':
      case 'run.integrated':
      case 'run.plan_answered':
        return;
    }
  }

  finish(): RunView {
    if (this.page) {
      const counts = this.view.taskCounts;
      this.view.busyWorkers = (counts['running'] ?? 0) + (counts['reviewing'] ?? 0);
    } else if (this.tasksChanged) {
      const counts: TaskCounts = {};
      let busy = 0;
      for (const task of this.view.tasks) {
        counts[task.status] = (counts[task.status] ?? 0) + 1;
        if (isBusy(task.status)) busy++;
      }
      this.view.taskCounts = counts;
      this.view.taskTotal = this.view.tasks.length;
      this.view.busyWorkers = busy;
    }
    return this.view;
  }

  private setRunStatus(status: RunView['status'], at: string): void {
    this.view.status = status;
    if (status !== 'paused') {
      delete this.view.pauseReason;
      delete this.view.resumeAt;
      delete this.view.quotaModel;
    }
    if (FINISHED_RUN_STATUSES.has(status)) {
      this.view.finishedAt ??= at;
      delete this.view.forecast;
    } else delete this.view.finishedAt;
  }

  /** A task the view may not hold moved: the counts follow (a move from an unknown status is not counted). */
  private countMove(from: TaskStatus | undefined, to: TaskStatus): void {
    const counts = this.view.taskCounts;
    if (from === undefined || from === to) return;
    const left = (counts[from] ?? 0) - 1;
    if (left > 0) counts[from] = left;
    else delete counts[from];
    counts[to] = (counts[to] ?? 0) + 1;
  }

  private heldStatus(id: string): TaskStatus | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.view.tasks[i]!.status;
  }

  private updateTask(id: string, change: (task: TaskRecord) => TaskRecord): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const task = this.view.tasks[i]!;
    this.view.tasks[i] = change(task);
    this.tasksChanged = true;
  }

  private updateAttempt(id: string, which: (a: Attempt) => boolean, change: (a: Attempt) => Attempt): void {
    this.updateTask(id, (task) => ({
      ...task,
      attempts: task.attempts.map((a) => (which(a) ? change(a) : a)),
    }));
  }
}

/** A worker holds its task while it works on it and while the manager reviews what it produced. */
function isBusy(status: TaskStatus): boolean {
  return status === 'running' || status === 'reviewing';
}

function taskWithStatus(task: TaskRecord, status: TaskStatus, at: string, reason?: string): TaskRecord {
  const next: TaskRecord = { ...task, status };
  switch (status) {
    case 'pending':
    case 'ready':
      // Back in the queue (retry, rework, rollback): the previous ending no longer holds.
      delete next.finishedAt;
      delete next.error;
      delete next.sourceChange;
      if (status === 'ready') next.readyAt = at;
      return next;
    case 'running':
      next.startedAt ??= at;
      return next;
    case 'reviewing':
    case 'merging':
      return next;
    case 'done':
      delete next.error;
      next.finishedAt = at;
      return next;
    case 'failed':
    case 'blocked':
    case 'skipped':
    case 'cancelled':
      next.finishedAt = at;
      if (reason !== undefined) next.error = reason;
      return next;
  }
}

function withoutOutcome(task: TaskRecord): TaskRecord {
  const next = { ...task };
  delete next.result;
  delete next.error;
  delete next.worker;
  delete next.startedAt;
  delete next.finishedAt;
  delete next.readyAt;
  return next;
}
