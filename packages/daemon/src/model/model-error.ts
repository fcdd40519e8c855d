import type { ErrorCategory, PauseReason } from '@orc/shared';
import type { RateLimitReport } from '../quota/rate-limit-report.js';

export interface ModelErrorDetails {
  status?: number;
  /** From a `retry-after` header, when the server sent one. */
  retryAfterMs?: number;
  /** 429 and 529: the caller lowers its concurrency until calls succeed again. */
  rateLimited?: boolean;
  /** Retrying cannot help until a person acts (logged out, usage limit, no credit): pause the run. */
  pauseRun?: boolean;
  /** Why the run pauses (default `provider`): `quota` for a usage limit, `budget` for the run's budget. */
  pauseReason?: PauseReason;
  /** When a usage limit resets (epoch ms), if the provider said: the run resumes by itself then. */
  resumeAt?: number;
  /** The task's own budget (`max_task_cost_usd`) stopped it: the task fails, the run goes on. */
  taskBudget?: boolean;
  /** Refused before its attempt began (the task's cap foresaw it): what failed is the task's next attempt. */
  beforeAttempt?: boolean;
  /** What the refusal's rate-limit headers said (a 429 carries them), for the quota governor. */
  rateLimits?: RateLimitReport;
}

/**
 * A failed model call, classified once: transient (network, 429, 529, 5xx) is retried after a backoff,
 * recoverable (max_tokens, timeout) is retried with more room, permanent (auth, invalid request) fails
 * the task. Messages never contain the API key.
 */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    readonly category: ErrorCategory,
    message: string,
    readonly details: ModelErrorDetails = {},
  ) {
    super(message);
  }
}

/** Raised when a call is aborted because its run was cancelled or paused for good; never retried. */
export class CallCancelledError extends Error {
  override readonly name = 'CallCancelledError';
}

/** Exponential backoff with full jitter, never shorter than the server's `retry-after`. */
export function backoffDelay(
  retry: number,
  retryAfterMs: number | undefined,
  random: () => number,
  baseMs = 500,
  capMs = 60_000,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** retry);
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  if (retryAfterMs === undefined) return Math.round(jittered);
  // The server said when; a little jitter keeps every waiting worker from returning in the same instant.
  return Math.round(retryAfterMs + random() * Math.min(1000, retryAfterMs * 0.1));
}

/** A failed call as a machine keeps it in its context: serialisable, with what the retry logic needs. */
export interface CallFailure {
  category: ErrorCategory;
  message: string;
  retryAfterMs?: number;
  rateLimited?: boolean;
  pauseRun?: boolean;
  /** The call was stopped on purpose (its task was taken back), not failed. */
  cancelled?: boolean;
  pauseReason?: PauseReason;
  resumeAt?: number;
  /** Refused before its attempt began: the attempt that failed is the one it would have been. */
  beforeAttempt?: boolean;
}

/** Anything a call threw, as a CallFailure; what is not a ModelError is permanent (a bug, not the network). */
export function describeCallFailure(error: unknown): CallFailure {
  if (error instanceof ModelError) {
    return {
      category: error.category,
      message: error.message,
      ...(error.details.retryAfterMs !== undefined && { retryAfterMs: error.details.retryAfterMs }),
      ...(error.details.rateLimited && { rateLimited: true }),
      ...(error.details.pauseRun && { pauseRun: true }),
      ...(error.details.pauseReason !== undefined && { pauseReason: error.details.pauseReason }),
      ...(error.details.resumeAt !== undefined && { resumeAt: error.details.resumeAt }),
      ...(error.details.beforeAttempt && { beforeAttempt: true }),
    };
  }
  if (error instanceof CallCancelledError)
    return { category: 'permanent', message: 'cancelled', cancelled: true };
  return { category: 'permanent', message: error instanceof Error ? error.message : String(error) };
}
