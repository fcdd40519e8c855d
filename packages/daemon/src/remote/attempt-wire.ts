import { PauseReason, ProviderName, RemoteWorker, ToolRefusal, Usage } from '@orc/shared';
import * as z from 'zod';

/**
 * What crosses Redis between a daemon and its workers. A job carries the task's prompt, never a
 * credential: each worker calls the model with its own key. Every shape is checked where it is read, so
 * a worker of another version fails one job with a clear reason instead of misreading it.
 */

/** BullMQ's key prefix for our queues, and the prefix of our own keys beside them. */
export const KEY_PREFIX = 'orc';
/** Hash: queue name → the daemon that owns it (`DaemonPresence`), so a worker finds it with no flag. */
export const DAEMONS_KEY = `${KEY_PREFIX}:daemons`;
/** Hash: worker id → `WorkerPresence`, per queue. */
export const workersKey = (queue: string) => `${KEY_PREFIX}:${queue}:workers`;
/** Pub/sub: ids of jobs the daemon took back (cancelled, paused, timed out); a worker aborts them. */
export const cancelChannel = (queue: string) => `${KEY_PREFIX}:${queue}:cancel`;
/** A presence older than this is gone (its process died without saying so). */
export const PRESENCE_TTL_MS = 15_000;
/** How often a daemon and a worker say they are alive. */
export const PRESENCE_EVERY_MS = 3_000;

export const AttemptJobData = z.object({
  /** The wire format's version: a worker refuses what it does not know. */
  v: z.literal(1),
  runId: z.string(),
  taskId: z.string(),
  attempt: z.number().int().positive(),
  provider: ProviderName,
  purpose: z.literal('work'),
  model: z.string(),
  system: z.string(),
  prompt: z.string(),
  maxTokens: z.number().int().positive(),
  budgetUsd: z.number().optional(),
  /** The daemon's limit on the attempt; the worker aborts past it too, in case the daemon is gone. */
  timeoutMs: z.number().positive(),
});
export type AttemptJobData = z.infer<typeof AttemptJobData>;

export const AttemptFailure = z.object({
  category: z.enum(['transient', 'recoverable', 'permanent']),
  message: z.string(),
  /** The `ModelError` details that steer the run (rate limited, pause it, retry after); the rest stay on the worker. */
  details: z
    .object({
      status: z.number().optional(),
      retryAfterMs: z.number().optional(),
      rateLimited: z.boolean().optional(),
      pauseRun: z.boolean().optional(),
      pauseReason: PauseReason.optional(),
      resumeAt: z.number().optional(),
      taskBudget: z.boolean().optional(),
    })
    .default({}),
});

/** A job's return value: the model's answer, or why there is none. Never thrown, so nothing is lost in BullMQ's failure text. */
export const AttemptResult = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    text: z.string(),
    usage: Usage,
    stopReason: z.string(),
    costUsd: z.number().optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
    /** Which worker answered. */
    worker: z.string(),
  }),
  z.object({ ok: z.literal(false), error: AttemptFailure, worker: z.string() }),
]);
export type AttemptResult = z.infer<typeof AttemptResult>;

/** What a worker tells while it works, as the job's progress. */
export const AttemptProgress = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), text: z.string() }),
  z.object({ kind: z.literal('session'), sessionId: z.string() }),
  z.object({ kind: z.literal('refusal'), refusal: ToolRefusal }),
  z.object({ kind: z.literal('started'), worker: z.string() }),
  /** The worker's quota governor let the call go after `waitedMs` (the daemon's metrics count it). */
  z.object({ kind: z.literal('admitted'), waitedMs: z.number().nonnegative() }),
  /** The call will wait a minute or more for its key's quota: until when (epoch ms), and why. */
  z.object({ kind: z.literal('quota-wait'), model: z.string(), until: z.number(), reason: z.string() }),
]);
export type AttemptProgress = z.infer<typeof AttemptProgress>;

export const DaemonPresence = z.object({
  queue: z.string(),
  host: z.string(),
  pid: z.number().int(),
  seenAt: z.number(),
  /** The stall interval workers of this queue use (ms). */
  stallMs: z.number().positive(),
});
export type DaemonPresence = z.infer<typeof DaemonPresence>;

/** A worker's presence is what `orc ls` shows of it. */
export const WorkerPresence = RemoteWorker;
export type WorkerPresence = RemoteWorker;

/** Parses a presence hash's values, dropping what does not parse and what is older than the TTL. */
export function livePresences<T extends { seenAt: number }>(
  values: Record<string, string>,
  schema: z.ZodType<T>,
  now: number,
): T[] {
  const live: T[] = [];
  for (const value of Object.values(values)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      continue;
    }
    const result = schema.safeParse(parsed);
    if (result.success && now - result.data.seenAt < PRESENCE_TTL_MS) live.push(result.data);
  }
  return live;
}
