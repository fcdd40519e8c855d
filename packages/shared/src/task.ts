import * as z from 'zod';
import { LIMITS, tooLongMessage, tooManyMessage } from './limits.js';
import { SourceChange } from './task-source.js';
import { Touches } from './touches.js';

export const TaskId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'task ids use letters, digits, ".", "_" and "-"');
export type TaskId = z.infer<typeof TaskId>;

export const Priority = z.enum(['critical', 'high', 'medium', 'low']);
export type Priority = z.infer<typeof Priority>;

/** A task's own fields as stored; runs written before the input limits existed still load. */
const taskFields = {
  id: TaskId,
  title: z.string().trim().min(1, 'title must not be empty'),
  description: z.string().default(''),
  dependencies: z.array(TaskId).default([]),
  priority: Priority.default('medium'),
  /** Extra instructions for the worker (the manager's detail, or Task Master's `details`). */
  details: z.string().optional(),
  /**
   * The paths or globs the task will touch in the repository (the plan's or the task file's): the
   * scheduler does not run two tasks whose touches overlap at the same time.
   */
  touches: Touches.optional(),
};

/** A unit of work as planned or imported: what to do and what it waits for, within `LIMITS`. */
export const TaskSpec = z.strictObject({
  ...taskFields,
  title: taskFields.title.max(LIMITS.titleChars, tooLongMessage(LIMITS.titleChars)),
  description: z.string().max(LIMITS.descriptionChars, tooLongMessage(LIMITS.descriptionChars)).default(''),
  dependencies: z.array(TaskId).max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'dependencies')).default([]),
  details: z.string().max(LIMITS.detailsChars, tooLongMessage(LIMITS.detailsChars)).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;
export type TaskSpecInput = z.input<typeof TaskSpec>;

export const TaskStatus = z.enum([
  'pending',
  'ready',
  'running',
  'reviewing',
  /** Accepted, its work being merged into the run's repository. */
  'merging',
  'done',
  'failed',
  'blocked',
  'skipped',
  'cancelled',
]);
export type TaskStatus = z.infer<typeof TaskStatus>;

/** Statuses a task does not leave by itself. */
export const SETTLED_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'done',
  'failed',
  'blocked',
  'skipped',
  'cancelled',
]);

export const ErrorCategory = z.enum(['transient', 'recoverable', 'permanent']);
export type ErrorCategory = z.infer<typeof ErrorCategory>;

export const AttemptError = z.object({ category: ErrorCategory, message: z.string() });
export type AttemptError = z.infer<typeof AttemptError>;

export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

export const ReviewVerdict = z.enum(['accept', 'rework', 'fail']);
export type ReviewVerdict = z.infer<typeof ReviewVerdict>;

/** What the manager answers when it reviews one task's result (structured output). */
export const TaskReview = z.strictObject({
  verdict: ReviewVerdict,
  feedback: z.string(),
});
export type TaskReview = z.infer<typeof TaskReview>;

/**
 * A tool call an agent (Claude Code) was refused: outside the run's permission mode and allowed tools,
 * with nobody to ask yet. The agent is told and goes on without it.
 */
export const ToolRefusal = z.object({
  tool: z.string(),
  /** What the call was about: the command, the file, the URL (shortened). */
  subject: z.string(),
  reason: z.string(),
  at: z.string(),
});
export type ToolRefusal = z.infer<typeof ToolRefusal>;

export const AttemptOutcome = z.enum(['running', 'succeeded', 'failed', 'interrupted', 'cancelled']);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

/** One model call doing a task's work, with the review of its result when there was one. */
export const Attempt = z.object({
  n: z.number().int().positive(),
  worker: z.number().int().nonnegative(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  outcome: AttemptOutcome,
  output: z.string().optional(),
  /**
   * What the attempt changed in the run's repository, for its review (bounded); kept until the task is
   * done, so a review cut off by a crash is made again from it.
   */
  diff: z.string().optional(),
  error: AttemptError.optional(),
  /** What the attempt cost in all: the worker's call and the manager's reviews of it (`reviewSpend`). */
  usage: Usage,
  costUsd: z.number().nonnegative(),
  review: TaskReview.optional(),
  /**
   * The manager's part of `usage` and `costUsd`: what its reviews of this attempt cost (the rest is the
   * worker's). Absent before a review was paid for, and in records written before it was kept apart.
   */
  reviewSpend: z.object({ usage: Usage, costUsd: z.number().nonnegative() }).optional(),
  /** The agent's session (claude-code): recorded as soon as it is known, so a crash can resume it. */
  sessionId: z.string().optional(),
  /** This attempt went on with attempt n's session in n's worktree instead of starting over. */
  resumes: z.number().int().positive().optional(),
  /** Tool calls the agent was refused during this attempt. */
  refusals: z.array(ToolRefusal).optional(),
});
export type Attempt = z.infer<typeof Attempt>;

/** A task inside a run: its spec, where it stands, and everything that was tried. */
export const TaskRecord = z.object({
  ...taskFields,
  status: TaskStatus,
  attempts: z.array(Attempt),
  reworks: z.number().int().nonnegative(),
  result: z.string().optional(),
  error: z.string().optional(),
  worker: z.number().int().nonnegative().optional(),
  /** The manager's feedback for the next attempt, after a rework or a merge conflict. */
  feedback: z.string().optional(),
  /** Why an imported task is not run (deferred or blocked in Task Master); it waits for a person. */
  held: z.string().optional(),
  /** A person changed the task at the run's source (Task Master) while the run went on. */
  sourceChange: SourceChange.optional(),
  /**
   * The files the task's accepted change touched (a repository run learns them from its diff): the
   * scheduler counts them with `touches` when the task runs again (a rework after a merge conflict or a
   * failed verify, a retry, a rollback).
   */
  touched: z.array(z.string()).optional(),
  /**
   * The number of the last attempt it began when a rollback took that attempt off its record: its next
   * attempt is numbered after it (`nextAttemptNumber`), so an attempt number is never used twice.
   */
  lastAttempt: z.number().int().positive().optional(),
  readyAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/**
 * The number of a task's next attempt: after every attempt it began, those a rollback undid too (a redo
 * after a rollback numbered from 1 again showed two "attempt 1"s in `orc logs`, and shared a worktree
 * and a job id with the attempt it redid).
 */
export function nextAttemptNumber(task: Pick<TaskRecord, 'attempts' | 'lastAttempt'>): number {
  return Math.max(task.lastAttempt ?? 0, task.attempts.at(-1)?.n ?? 0) + 1;
}

/** A repository run's change for one task, and where it was read from (its commit, or its branch). */
export const TaskDiff = z.object({ source: z.string(), diff: z.string() });
export type TaskDiff = z.infer<typeof TaskDiff>;

export const ZERO_USAGE: Usage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  };
}

/** What an attempt's reviews add to it: the charge on its total, and on its manager's part. */
export function withReviewCharge<T extends Pick<Attempt, 'usage' | 'costUsd' | 'reviewSpend'>>(
  attempt: T,
  charge: { usage: Usage; costUsd: number },
): T {
  const before = attempt.reviewSpend ?? { usage: ZERO_USAGE, costUsd: 0 };
  return {
    ...attempt,
    usage: addUsage(attempt.usage, charge.usage),
    costUsd: attempt.costUsd + charge.costUsd,
    reviewSpend: { usage: addUsage(before.usage, charge.usage), costUsd: before.costUsd + charge.costUsd },
  };
}

/** An attempt's own part, its worker's call: what it cost less its reviews. */
export function workerSpend(attempt: Pick<Attempt, 'usage' | 'costUsd' | 'reviewSpend'>): {
  usage: Usage;
  costUsd: number;
} {
  const review = attempt.reviewSpend;
  if (review === undefined) return { usage: attempt.usage, costUsd: attempt.costUsd };
  return {
    usage: subtractUsage(attempt.usage, review.usage),
    costUsd: Math.max(0, attempt.costUsd - review.costUsd),
  };
}

/** a − b, never below zero per count. */
export function subtractUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: Math.max(0, a.inputTokens - b.inputTokens),
    outputTokens: Math.max(0, a.outputTokens - b.outputTokens),
    cacheReadTokens: Math.max(0, a.cacheReadTokens - b.cacheReadTokens),
    cacheWriteTokens: Math.max(0, a.cacheWriteTokens - b.cacheWriteTokens),
  };
}
