import * as z from 'zod';
import { Rating } from './feedback.js';
import { RunId } from './rpc.js';
import { RunModels, RunStatus, TaskCounts } from './run.js';
import { AttemptOutcome, ReviewVerdict, TaskStatus, Usage } from './task.js';

/** What some calls cost: tokens and dollars. */
export const Spend = z.object({ usage: Usage, costUsd: z.number().nonnegative() });
export type Spend = z.infer<typeof Spend>;

/** Reasons that read alike (ids, numbers and paths aside), counted together, with one of them in full. */
export const ReasonGroup = z.object({
  reason: z.string(),
  count: z.number().int().positive(),
  tasks: z.array(z.string()),
});
export type ReasonGroup = z.infer<typeof ReasonGroup>;

/**
 * One entry of a run's feedback: a manager's verdict, a retry, a skip, a rollback, a person's edit of the
 * plan (tasks added, changed, removed or cancelled), a budget a person set (the run's, or a task's), or a
 * person's rating.
 */
export const FeedbackEntry = z.object({
  at: z.string(),
  kind: z.enum([
    'accept',
    'rework',
    'fail',
    'attempt_failed',
    'retry',
    'skip',
    'rollback',
    'plan_edit',
    'budget',
    'rating',
  ]),
  taskId: z.string().optional(),
  attempt: z.number().int().optional(),
  text: z.string(),
  score: z.number().int().optional(),
});
export type FeedbackEntry = z.infer<typeof FeedbackEntry>;

/** One worker attempt on the timeline. */
export const TimelineAttempt = z.object({
  taskId: z.string(),
  n: z.number().int().positive(),
  worker: z.number().int().nonnegative(),
  startedAt: z.string(),
  /** Absent while it runs (the report's time is its end then). */
  endedAt: z.string().optional(),
  outcome: AttemptOutcome,
  verdict: ReviewVerdict.optional(),
});
export type TimelineAttempt = z.infer<typeof TimelineAttempt>;

export const TaskReportRow = z.object({
  id: z.string(),
  title: z.string(),
  status: TaskStatus,
  /** Its attempts as the task stands (what `orc show` lists): not those a rollback undid. */
  attempts: z.number().int().nonnegative(),
  /** Attempts a rollback undid; their cost and time are in `spend` and `workMs`. Absent when none. */
  undoneAttempts: z.number().int().positive().optional(),
  reworks: z.number().int().nonnegative(),
  /** What its workers' attempts cost (the manager's reviews are in the manager's spend). */
  spend: Spend,
  /** Time its attempts were worked on, every one (a rollback's too). */
  workMs: z.number().nonnegative(),
  /**
   * Time its attempts since the last rollback that reset it were worked on: the task's part of the run
   * as it ended, which the critical path adds up.
   */
  elapsedMs: z.number().nonnegative(),
  onCriticalPath: z.boolean(),
  /** Repository runs: what it changed. */
  lines: z.object({ added: z.number().int(), removed: z.number().int() }).optional(),
  ratings: z.array(Rating),
});
export type TaskReportRow = z.infer<typeof TaskReportRow>;

/** `orc report <run>`: what a run did, what it cost and where, what was reworked and why. */
export const RunReport = z.object({
  runId: z.string(),
  goal: z.string(),
  status: RunStatus,
  models: RunModels,
  maxWorkers: z.number().int().positive(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  /** The time the report was made; a live run's open attempts end here. */
  at: z.string(),
  taskCounts: TaskCounts,
  taskTotal: z.number().int().nonnegative(),
  reviews: z.object({ accept: z.number().int(), rework: z.number().int(), fail: z.number().int() }),
  /** Reworked tasks over reviewed tasks; failed tasks over settled tasks (0 when none). */
  reworkRate: z.number().min(0).max(1),
  failureRate: z.number().min(0).max(1),
  reworkReasons: z.array(ReasonGroup),
  failureReasons: z.array(ReasonGroup),
  /**
   * The task failures `failureReasons` counts, and how many were of tasks not failed as the run stands
   * (`since`: retried since, undone by a rollback, skipped or cancelled; of those, `skipped` and
   * `cancelled` by the task's status now): `failureRate` counts the tasks failed now.
   */
  failures: z
    .object({
      count: z.number().int().nonnegative(),
      since: z.number().int().nonnegative(),
      skipped: z.number().int().nonnegative().optional(),
      cancelled: z.number().int().nonnegative().optional(),
    })
    .optional(),
  spend: z.object({
    total: Spend,
    manager: Spend,
    workers: Spend,
    byModel: z.array(Spend.extend({ model: z.string(), roles: z.array(z.enum(['manager', 'worker'])) })),
  }),
  time: z.object({
    /** From the run's creation to its end (or the report's time). */
    makespanMs: z.number().nonnegative(),
    /** The longest chain of dependent tasks, by their elapsed time. */
    criticalPathMs: z.number().nonnegative(),
    criticalPath: z.array(z.string()),
    /** Busy worker time over makespan × workers. */
    utilisation: z.number().min(0).max(1),
  }),
  tasks: z.array(TaskReportRow),
  timeline: z.array(TimelineAttempt),
  feedback: z.array(FeedbackEntry),
  ratings: z.object({ count: z.number().int(), average: z.number().optional() }),
});
export type RunReport = z.infer<typeof RunReport>;

/** A rework rate over a group of reviewed tasks (a model, a kind of task). */
export const ReworkRate = z.object({
  key: z.string(),
  reviewed: z.number().int().nonnegative(),
  reworked: z.number().int().nonnegative(),
  rate: z.number().min(0).max(1),
});
export type ReworkRate = z.infer<typeof ReworkRate>;

/** `orc report --since 7d`: every run created in the window, summed up to tune prompts, models and budgets. */
export const RunsReport = z.object({
  since: z.string(),
  at: z.string(),
  runs: z.array(
    z.object({
      id: z.string(),
      goal: z.string(),
      status: RunStatus,
      createdAt: z.string(),
      costUsd: z.number(),
      tasks: z.number().int(),
      reworkRate: z.number(),
      /**
       * Which models worked on it: a run on the simulated model is labelled as one. Absent from a daemon
       * built before it (a CLI updated under a running daemon).
       */
      models: RunModels.optional(),
    }),
  ),
  byStatus: TaskCounts,
  spend: Spend,
  /**
   * The part of `spend` that simulated models' tokens come to at real prices: nothing was spent on it.
   * Absent from a daemon built before it.
   */
  simulatedCostUsd: z.number().nonnegative().optional(),
  reworkByModel: z.array(ReworkRate),
  /**
   * Kind of task: the first word of its title that says what it does ("add", "fix", "test"; articles and
   * such skipped), which is how plans name work.
   */
  reworkByKind: z.array(ReworkRate),
  failureReasons: z.array(ReasonGroup),
  reworkReasons: z.array(ReasonGroup),
  /** Runs that could not be read (damaged files), with why. */
  unreadable: z.array(z.object({ id: z.string(), reason: z.string() })),
});
export type RunsReport = z.infer<typeof RunsReport>;

export const RunReportInput = z.strictObject({ runId: RunId });
/** `since` in milliseconds before now. */
export const RunsReportInput = z.strictObject({ sinceMs: z.number().int().positive() });
