import {
  formatCost,
  addUsage,
  describeTaskChanges,
  editedBy,
  hasAnswerToReview,
  SETTLED_STATUSES,
  runWorkMs,
  subtractUsage,
  workerSpend,
  ZERO_USAGE,
  type Attempt,
  type FeedbackEntry,
  type OrcEvent,
  type RunReport,
  type RunView,
  type Spend,
  type TaskReportRow,
  type TaskStatus,
  type TimelineAttempt,
} from '@orc/shared';
import { criticalPath } from './critical-path.js';
import { ReasonGroups } from './reason-groups.js';

/** What a repository run's task changed, from its diff. */
export interface LinesChanged {
  added: number;
  removed: number;
}

interface AttemptEntry extends TimelineAttempt {
  /** The worker's call: what the attempt cost less its reviews. */
  spend: Spend;
  /**
   * The journal told the worker's spend (`task.worked`, `task.attempt_ended`; `task.reviewed` in older
   * journals): `task.completed` does not replace it. Its total less the reviews seen here is not the
   * worker's after a full rollback: the checkpoint's record does not hold the reviews made since.
   */
  told?: true;
  /** The manager's reviews of it (in the manager's spend, as `orc metrics` counts them). */
  review: Spend;
  /** The id of its `task.assigned` event: a checkpoint holds the attempts begun before it. */
  eventId: number;
  /**
   * The id of the rollback that undid it (its task's record after the rollback does not hold it): not
   * one of the task's attempts as `orc show` lists them. A later rollback that brings it back clears it.
   */
  undoneAt?: number;
  /** A rollback reset its task after it began: not part of the task's time as the run ended. */
  beforeReset?: true;
}

const NO_SPEND: Spend = { usage: ZERO_USAGE, costUsd: 0 };

/**
 * Folds a run's journal into its report. The journal, not the run document, is the source: a rollback
 * resets task records, but the attempts, verdicts and money before it happened all the same. The view
 * gives what the journal may not hold (imported tasks' specs) and where the run stands now.
 */
export class RunReportBuilder {
  private readonly attempts: AttemptEntry[] = [];
  /** The latest attempt per task and number (in older journals a rollback numbered the redo from 1 again). */
  private readonly current = new Map<string, AttemptEntry>();
  /** Each task's latest attempt, whose work a move to `reviewing` ends. */
  private readonly latest = new Map<string, AttemptEntry>();
  private readonly statuses = new Map<string, TaskStatus>();
  private readonly feedback: FeedbackEntry[] = [];
  private readonly reworkReasons = new ReasonGroups();
  private readonly failureReasons = new ReasonGroups();
  /** The task of each `task.failed`, in order: a failure of a task not failed at the end was retried. */
  private readonly failedTasks: string[] = [];
  private readonly reviews = { accept: 0, rework: 0, fail: 0 };
  private readonly reviewed = new Set<string>();
  private readonly reworked = new Set<string>();
  /** Each checkpoint's last event: what a rollback to it keeps. */
  private readonly checkpoints = new Map<string, number>();
  private lastAt: string | undefined;

  add(event: OrcEvent): void {
    const previousAt = this.lastAt;
    this.lastAt = event.at;
    switch (event.type) {
      case 'task.assigned': {
        const entry: AttemptEntry = {
          taskId: event.taskId,
          n: event.attempt,
          worker: event.worker,
          startedAt: event.at,
          outcome: 'running',
          spend: NO_SPEND,
          review: NO_SPEND,
          eventId: event.id,
        };
        this.attempts.push(entry);
        this.current.set(key(event.taskId, event.attempt), entry);
        this.latest.set(event.taskId, entry);
        return;
      }
      case 'task.status':
        return this.moved(event.taskId, event.status, event.at, event.reason, event.from);
      case 'task.attempt_failed': {
        const entry = this.current.get(key(event.taskId, event.attempt));
        if (entry) {
          entry.outcome = 'failed';
          entry.endedAt ??= event.at;
        }
        this.note(event.at, 'attempt_failed', event.error.message, event.taskId, event.attempt);
        return;
      }
      case 'task.worked':
      case 'task.attempt_ended': {
        const entry = this.current.get(key(event.taskId, event.attempt));
        if (entry) {
          entry.spend = { usage: event.usage, costUsd: event.costUsd };
          entry.told = true;
        }
        return;
      }
      case 'task.review_charged': {
        const entry = this.current.get(key(event.taskId, event.attempt));
        if (entry) entry.review = sumSpend([entry.review, event]);
        return;
      }
      case 'task.reviewed': {
        const entry = this.current.get(key(event.taskId, event.attempt));
        if (entry) {
          entry.verdict = event.review.verdict;
          entry.endedAt ??= event.at;
          if (event.charge !== undefined) entry.review = sumSpend([entry.review, event.charge]);
          // What the attempt cost, in journals from before `task.attempt_ended` told it.
          if (event.usage !== undefined && event.costUsd !== undefined) {
            entry.spend = { usage: event.usage, costUsd: event.costUsd };
            entry.told = true;
          }
        }
        const { verdict, feedback } = event.review;
        this.reviews[verdict] += 1;
        this.reviewed.add(event.taskId);
        if (verdict === 'rework') {
          this.reworked.add(event.taskId);
          this.reworkReasons.add(feedback, event.taskId);
        }
        this.note(event.at, verdict, feedback, event.taskId, event.attempt);
        return;
      }
      case 'task.completed': {
        const entry = this.current.get(key(event.taskId, event.attempt));
        if (entry) {
          entry.outcome = 'succeeded';
          entry.endedAt ??= event.at;
          // The attempt's whole cost, its reviews' too: the worker's is the rest (journals that did not tell it).
          if (!entry.told) entry.spend = lessSpend(event, entry.review);
        }
        return;
      }
      case 'task.failed':
        this.failureReasons.add(event.error, event.taskId);
        this.failedTasks.push(event.taskId);
        return;
      case 'run.budget_set':
        this.note(event.at, 'budget', `the run may cost ${formatCost(event.limitUsd)}`);
        return;
      case 'run.task_budget_set':
        this.note(event.at, 'budget', `a task may cost ${formatCost(event.limitUsd)}`);
        return;
      case 'run.restored':
        // The daemon stopped while these ran: they ended with the last event before the restore.
        for (const entry of this.attempts) {
          if (entry.outcome !== 'running' || !event.interruptedTasks.includes(entry.taskId)) continue;
          entry.outcome = 'interrupted';
          entry.endedAt = event.lastAliveAt ?? previousAt ?? event.at;
        }
        return;
      case 'checkpoint.created':
        this.checkpoints.set(event.checkpoint.id, event.checkpoint.lastEventId);
        return;
      case 'run.rolled_back':
        return this.rolledBack(event);
      case 'plan.tasks_added':
        this.note(
          event.at,
          'plan_edit',
          `added ${event.tasks.map((t) => t.id).join(', ')} ${editedBy(event.origin)}`,
        );
        return;
      case 'plan.tasks_removed':
        this.note(event.at, 'plan_edit', `removed ${event.taskIds.join(', ')} ${editedBy(event.origin)}`);
        return;
      case 'task.edited':
        this.note(
          event.at,
          'plan_edit',
          `edited ${editedBy(event.origin)}: ${describeTaskChanges(event.changes)}`,
          event.taskId,
        );
        return;
      case 'feedback.rated': {
        const { rating } = event;
        this.note(event.at, 'rating', rating.comment ?? '', rating.taskId, undefined, rating.score);
        return;
      }
      default:
        return;
    }
  }

  /** The report of `view` with what the journal told; `lines` for repository runs; `now` ends open attempts. */
  finish(view: RunView, now: number, lines?: ReadonlyMap<string, LinesChanged>): RunReport {
    const end = view.finishedAt !== undefined ? Date.parse(view.finishedAt) : now;
    const spanOf = (entry: TimelineAttempt) =>
      Math.max(
        0,
        (entry.endedAt !== undefined ? Date.parse(entry.endedAt) : end) - Date.parse(entry.startedAt),
      );
    this.priceUnreviewed(view);
    const byTask = new Map<string, AttemptEntry[]>();
    for (const entry of this.attempts) {
      const list = byTask.get(entry.taskId);
      if (list) list.push(entry);
      else byTask.set(entry.taskId, [entry]);
    }
    const ratings = view.ratings ?? [];
    const elapsed = new Map<string, number>();
    const rows: TaskReportRow[] = view.tasks.map((task) => {
      const attempts = byTask.get(task.id) ?? [];
      const undone = attempts.filter((a) => a.undoneAt !== undefined).length;
      // Working time, not first start to end: the latter counted pauses, reviews and the time before a
      // rollback, and made a critical path of 5m18s in a run of 1m09s.
      const elapsedMs = attempts.reduce((sum, a) => sum + (a.beforeReset ? 0 : spanOf(a)), 0);
      elapsed.set(task.id, elapsedMs);
      const changed = lines?.get(task.id);
      return {
        id: task.id,
        title: task.title,
        status: task.status,
        // As `orc show` lists them: the attempts a rollback undid are not the task's any more.
        attempts: attempts.filter((a) => a.undoneAt === undefined).length,
        ...(undone > 0 && { undoneAttempts: undone }),
        reworks: attempts.filter((a) => a.verdict === 'rework').length,
        spend: sumSpend(attempts.map((a) => a.spend)),
        workMs: attempts.reduce((sum, a) => sum + spanOf(a), 0),
        elapsedMs,
        onCriticalPath: false,
        ...(changed && { lines: changed }),
        ratings: ratings.filter((r) => r.taskId === task.id),
      };
    });
    const path = criticalPath(view.tasks, (id) => elapsed.get(id) ?? 0);
    const onPath = new Set(path.path);
    for (const row of rows) row.onCriticalPath = onPath.has(row.id);

    const total: Spend = { usage: view.usage, costUsd: view.costUsd };
    const workers = sumSpend(this.attempts.map((a) => a.spend));
    const manager: Spend = {
      usage: subtractUsage(total.usage, workers.usage),
      costUsd: Math.max(0, total.costUsd - workers.costUsd),
    };
    // The run's working time: the time it was paused, or finished before a rollback reopened it, is not.
    const makespanMs = runWorkMs(view, now);
    const busyMs = this.attempts.reduce((sum, a) => sum + spanOf(a), 0);
    const counts = view.taskCounts;
    const failed = counts['failed'] ?? 0;
    const finishedTasks = failed + (counts['done'] ?? 0);
    const scores = ratings.map((r) => r.score);
    return {
      runId: view.id,
      goal: view.goal,
      status: view.status,
      models: view.models,
      maxWorkers: view.maxWorkers,
      createdAt: view.createdAt,
      ...(view.finishedAt !== undefined && { finishedAt: view.finishedAt }),
      at: new Date(now).toISOString(),
      taskCounts: counts,
      taskTotal: view.taskTotal,
      reviews: { ...this.reviews },
      reworkRate: ratio(this.reworked.size, this.reviewed.size),
      failureRate: ratio(failed, finishedTasks),
      reworkReasons: this.reworkReasons.top(),
      failureReasons: this.failureReasons.top(),
      failures: this.failuresSince(view),
      spend: { total, manager, workers, byModel: byModel(view, manager, workers) },
      time: {
        makespanMs,
        criticalPathMs: path.ms,
        criticalPath: path.path,
        utilisation: Math.min(1, ratio(busyMs, makespanMs * view.maxWorkers)),
      },
      tasks: rows,
      timeline: this.attempts.map(
        ({
          spend: _spend,
          review: _review,
          eventId: _eventId,
          undoneAt: _undoneAt,
          beforeReset: _reset,
          ...entry
        }) => entry,
      ),
      feedback: this.feedback,
      ratings: {
        count: scores.length,
        ...(scores.length > 0 && { average: scores.reduce((a, b) => a + b, 0) / scores.length }),
      },
    };
  }

  /**
   * The failures counted, and of them those of tasks not failed now, by what became of the task: a trial's
   * report read "2 earlier failures of tasks retried or rolled back since" when one had been skipped.
   */
  private failuresSince(view: RunView): NonNullable<RunReport['failures']> {
    const now = this.failedTasks.map((id) => view.tasks.find((t) => t.id === id)?.status);
    const count = (status: TaskStatus) => now.filter((s) => s === status).length;
    return {
      count: now.length,
      since: now.filter((s) => s !== 'failed').length,
      skipped: count('skipped'),
      cancelled: count('cancelled'),
    };
  }

  /**
   * An attempt that failed or was cut off has no cost in its events. A failed model call costs nothing
   * (the budget charges answers only), but an attempt can fail after its answer (a repository commit):
   * the task record has what it cost, for the attempts since the last rollback.
   */
  private priceUnreviewed(view: RunView): void {
    const recorded = new Map<string, Attempt>();
    for (const task of view.tasks)
      for (const attempt of task.attempts) recorded.set(key(task.id, attempt.n), attempt);
    for (const [at, entry] of this.current) {
      const attempt = recorded.get(at);
      if (entry.told || entry.spend.costUsd !== 0 || attempt === undefined) continue;
      // The record's cost is its reviews' too (the manager's): the worker's is the rest. Records from
      // before they kept the reviews apart: less the reviews seen here.
      entry.spend =
        attempt.reviewSpend !== undefined ? workerSpend(attempt) : lessSpend(attempt, entry.review);
    }
  }

  /**
   * The reset tasks' attempts are those their records hold after the rollback (the event's records: an
   * attempt is the one that began at its start); the others are undone. What the tasks do next is the
   * rollback's redo, not a retry. Without the records (an older journal, or too large an event): a
   * selective rollback keeps every attempt, the others keep those of the checkpoint (begun before it and
   * not undone then), and a checkpoint the journal does not name keeps none.
   */
  private rolledBack(event: Extract<OrcEvent, { type: 'run.rolled_back' }>): void {
    const reset = new Set(event.resetTasks);
    const records = event.tasks && new Map(event.tasks.map((task) => [task.id, task]));
    const last = this.checkpoints.get(event.checkpointId) ?? 0;
    for (const entry of this.attempts) {
      if (!reset.has(entry.taskId)) continue;
      const record = records?.get(entry.taskId);
      const held = record?.attempts;
      const kept =
        held !== undefined
          ? held.some((a) => a.n === entry.n && a.startedAt === entry.startedAt)
          : event.strategy === 'selective'
            ? entry.undoneAt === undefined
            : entry.eventId <= last && !(entry.undoneAt !== undefined && entry.undoneAt <= last);
      if (kept) delete entry.undoneAt;
      else entry.undoneAt ??= event.id;
      // An answer kept for its review: the task goes on from it, and its time from its start (as the
      // record's does), so the attempts it holds since are part of it. Sent back to work, it starts over.
      const goesOn =
        kept &&
        record?.startedAt !== undefined &&
        hasAnswerToReview(record) &&
        entry.startedAt >= record.startedAt;
      if (goesOn) delete entry.beforeReset;
      else entry.beforeReset = true;
    }
    for (const taskId of reset) this.statuses.delete(taskId);
    const shown =
      event.resetTasks.slice(0, 10).join(', ') + (reset.size > 10 ? `, and ${reset.size - 10} more` : '');
    this.note(
      event.at,
      'rollback',
      `rolled back to ${event.checkpointId} (${event.strategy}); ${reset.size === 1 ? '1 task' : `${reset.size} tasks`} reset, to go on from there${reset.size > 0 ? `: ${shown}` : ''}`,
    );
  }

  private moved(
    taskId: string,
    status: TaskStatus,
    at: string,
    reason: string | undefined,
    from: TaskStatus | undefined,
  ): void {
    // The status it left as the event says (a rollback's reset is not a retry of what it was before).
    const before = from ?? this.statuses.get(taskId);
    this.statuses.set(taskId, status);
    const entry = this.latest.get(taskId);
    if (status === 'reviewing') {
      // The worker's part ended; the review that follows is the manager's time.
      if (entry?.outcome === 'running') entry.endedAt ??= at;
    } else if (status !== 'running' && entry?.outcome === 'running' && entry.endedAt === undefined) {
      // Taken back mid-attempt (a pause, a rollback, a cancel): its time ends here, not at the run's end.
      entry.outcome = 'interrupted';
      entry.endedAt = at;
    }
    if ((status === 'ready' || status === 'pending') && before !== undefined && SETTLED_STATUSES.has(before))
      this.note(at, 'retry', reason ?? `retried after it was ${before}`, taskId);
    if (status === 'skipped') this.note(at, 'skip', reason ?? 'skipped', taskId);
    // A task a person cancelled says so; the tasks of a cancelled run do not, one by one.
    if (status === 'cancelled' && reason !== undefined) this.note(at, 'plan_edit', reason, taskId);
  }

  private note(
    at: string,
    kind: FeedbackEntry['kind'],
    text: string,
    taskId?: string,
    attempt?: number,
    score?: number,
  ): void {
    this.feedback.push({
      at,
      kind,
      text,
      ...(taskId !== undefined && { taskId }),
      ...(attempt !== undefined && { attempt }),
      ...(score !== undefined && { score }),
    });
  }
}

function key(taskId: string, attempt: number): string {
  return `${taskId}\u0000${attempt}`;
}

function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function sumSpend(spends: readonly Spend[]): Spend {
  let usage = ZERO_USAGE;
  let costUsd = 0;
  for (const spend of spends) {
    usage = addUsage(usage, spend.usage);
    costUsd += spend.costUsd;
  }
  return { usage, costUsd };
}

/** a − b, never below zero. */
function lessSpend(a: Spend, b: Spend): Spend {
  return { usage: subtractUsage(a.usage, b.usage), costUsd: Math.max(0, a.costUsd - b.costUsd) };
}

function byModel(view: RunView, manager: Spend, workers: Spend): RunReport['spend']['byModel'] {
  const managerModel = view.models.manager.model;
  const workerModel = view.models.worker.model;
  if (managerModel === workerModel)
    return [{ model: managerModel, roles: ['manager', 'worker'], ...sumSpend([manager, workers]) }];
  return [
    { model: managerModel, roles: ['manager'], ...manager },
    { model: workerModel, roles: ['worker'], ...workers },
  ];
}
