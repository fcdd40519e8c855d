import type { RunForecast, TaskRecord, TaskStatus } from '@orc/shared';
import { TaskText, type DocumentTask } from '../store/run-document.js';
import { taskCost } from './run-budget.js';

/** Finished tasks whose pace predicts the rest: the recent ones, not the start (a full quota, a cold cache). */
const RECENT = 50;

/** Statuses that end a task's spend: finished, or given up on. */
const FINISHED: ReadonlySet<TaskStatus> = new Set(['done', 'failed']);
/** Statuses in which a task is not work left to do. */
const NOT_LEFT_LIST = ['done', 'failed', 'skipped', 'cancelled', 'blocked'] as const;
const NOT_LEFT: ReadonlySet<TaskStatus> = new Set(NOT_LEFT_LIST);

/**
 * A forecast is made afresh at most this often; in between, the spend it adds its remainder to is the
 * current one. Made for every event that tells a charge (two a task), forecasts cost ~0.2 s of the
 * daemon's CPU over a 10,000-task run (each goes over the tasks under way; CPU profile of the bench).
 */
const REFRESH_MS = 100;

/** What a forecast is made from at one instant. */
export interface ForecastInput {
  now: number;
  /** Everything the run has spent (USD). */
  spentUsd: number;
  /** What its final review is foreseen to cost, while it is still to be paid (USD). */
  finalReviewUsd: number;
  /** How many of the run's tasks have this status. */
  count: (status: TaskStatus) => number;
  total: number;
  /** A quota wait's end (epoch ms): nothing finishes before it. */
  resumeAt: number | undefined;
  /** The run waits for a person: it has no finish time. */
  waitsForAPerson: boolean;
  /** A task's record, for what a task under way has cost so far. */
  task: (id: string) => Pick<TaskRecord, 'attempts'> | undefined;
}

/**
 * A run's forecast, kept as tasks move so making one costs O(tasks under way): the cost is what was spent
 * plus, for the tasks left, what a finished task cost on average (its attempts and their reviews) less
 * what the ones under way have cost already; the finish time is the tasks left at the pace of the last 50
 * that finished, and the final review as it is foreseen (`finalReviewUsd`); planning is over by then.
 *
 * The pace is measured on the run's working clock (`idleMs`: the time it was paused, or finished before
 * a reopen, is left out), and afresh from the first start after the records were replaced (a rollback, a
 * restore): an hour's pause after a rollback made a pace of a task an hour and a finish an hour too late.
 */
export class RunForecaster {
  private finished = { count: 0, costUsd: 0 };
  /** Tasks begun and not finished: their spend so far is part of their cost. */
  private readonly begun = new Set<string>();
  /** Working-clock times (see `workAt`) at which the recent tasks finished. */
  private readonly recent: number[] = [];
  /** Tasks finished since the records were last replaced: the pace's. */
  private paced = 0;
  /** The working-clock time of the first start since the records were last replaced. */
  private firstStart: number | undefined;

  /** `idleMs(now)`: how long the run has not worked by `now` (ms), as `runIdleMs` counts it. */
  constructor(private readonly idleMs: (now: number) => number = () => 0) {}

  private workAt(now: number): number {
    return now - this.idleMs(now);
  }
  /** The last forecast made afresh: what was left to spend, and when it would finish. */
  private last:
    | {
        at: number;
        leftUsd: number;
        finishAt: string | undefined;
        resumeAt: number | undefined;
        waits: boolean;
      }
    | undefined;

  /** The records were replaced (a plan, a restore, a rollback): counted afresh, the pace from now on. */
  reset(tasks: Iterable<DocumentTask>): void {
    this.finished = { count: 0, costUsd: 0 };
    this.begun.clear();
    this.recent.length = 0;
    this.paced = 0;
    this.firstStart = undefined;
    this.last = undefined;
    // A task kept as its text (settled or waiting) is read without parsing its record.
    for (const task of tasks) {
      const costs =
        task instanceof TaskText ? task.attemptCosts : task.attempts.map((attempt) => attempt.costUsd);
      if (FINISHED.has(task.status))
        this.addCost(
          costs.reduce((sum, cost) => sum + cost, 0),
          1,
        );
      else if (costs.length > 0 && !NOT_LEFT.has(task.status)) this.begun.add(task.id);
    }
  }

  moved(task: TaskRecord, from: TaskStatus, to: TaskStatus, now: number): void {
    if (to === 'running') this.firstStart ??= this.workAt(now);
    if (FINISHED.has(from) && !FINISHED.has(to)) this.add(task, -1);
    if (FINISHED.has(to) && !FINISHED.has(from)) {
      this.add(task, 1);
      this.paced += 1;
      this.recent.push(this.workAt(now));
      if (this.recent.length > RECENT) this.recent.shift();
    }
    if (NOT_LEFT.has(to)) this.begun.delete(task.id);
    else if (to === 'running') this.begun.add(task.id);
  }

  forecast(input: ForecastInput): RunForecast | undefined {
    if (this.finished.count === 0) return undefined;
    const { now } = input;
    let last = this.last;
    if (
      last === undefined ||
      now < last.at ||
      now - last.at >= REFRESH_MS ||
      last.resumeAt !== input.resumeAt ||
      last.waits !== input.waitsForAPerson
    ) {
      last = this.afresh(input);
      this.last = last;
    }
    const costUsd = input.spentUsd + last.leftUsd + input.finalReviewUsd;
    if (last.finishAt !== undefined) return { costUsd, finishAt: last.finishAt };
    return { costUsd, noFinishAt: last.waits ? 'person' : 'pace' };
  }

  private afresh(input: ForecastInput): NonNullable<RunForecaster['last']> {
    const { now } = input;
    let left = input.total;
    for (const status of NOT_LEFT_LIST) left -= input.count(status);
    const perTask = this.finished.costUsd / this.finished.count;
    let underWay = 0;
    for (const id of this.begun) {
      const task = input.task(id);
      if (task) underWay += Math.min(perTask, taskCost(task));
    }
    const made = {
      at: now,
      leftUsd: Math.max(0, left * perTask - underWay),
      finishAt: undefined as string | undefined,
      resumeAt: input.resumeAt,
      waits: input.waitsForAPerson,
    };
    if (input.waitsForAPerson) return made;
    const pace = this.pace(now);
    if (pace === undefined) return made;
    const from = Math.max(now, input.resumeAt ?? now);
    made.finishAt = new Date(from + left / pace).toISOString();
    return made;
  }

  /** Tasks finished per ms of work, recently. */
  private pace(now: number): number | undefined {
    const at = this.workAt(now);
    if (this.recent.length >= RECENT) {
      const span = at - this.recent[0]!;
      return span > 0 ? (this.recent.length - 1) / span : undefined;
    }
    const since = this.firstStart ?? this.recent[0];
    if (since === undefined || this.paced === 0 || at <= since) return undefined;
    return this.paced / (at - since);
  }

  private add(task: Pick<TaskRecord, 'attempts'>, sign: 1 | -1): void {
    this.addCost(taskCost(task), sign);
  }

  private addCost(costUsd: number, sign: 1 | -1): void {
    this.finished = {
      count: this.finished.count + sign,
      costUsd: this.finished.costUsd + sign * costUsd,
    };
  }
}
