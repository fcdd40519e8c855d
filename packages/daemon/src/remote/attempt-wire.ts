import {
  PauseReason,
  ProviderName,
  RemoteWorker,
  ToolRefusal,
  ToolRule,
  Usage,
  type ResolvedConfig,
} from '@orc/shared';
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
/**
 * String: set when the daemon gave job `id` up (taken back, or cut off while Redis was away). A worker
 * never starts such a job and stops one it runs: the word lasts where pub/sub's is lost on a worker
 * that was not connected when it was sent.
 */
export const takenBackKey = (queue: string, id: string) => `${KEY_PREFIX}:${queue}:taken-back:${id}`;
/** A take-back is kept a day; a job that outlives it stops at its own timeout (`timeoutMs`) at its worker. */
export const TAKEN_BACK_TTL_S = 86_400;
/** A presence older than this is gone (its process died without saying so). */
export const PRESENCE_TTL_MS = 15_000;
/** How often a daemon and a worker say they are alive. */
export const PRESENCE_EVERY_MS = 3_000;

/** What a run's agents may do (its `claude_cli` tool settings), the same on every machine. */
export const AgentTools = z.object({
  permission_mode: z.enum(['default', 'acceptEdits', 'dontAsk', 'bypassPermissions', 'plan']),
  dangerously_skip_permissions: z.boolean(),
  allowed_tools: z.array(z.string()).optional(),
  disallowed_tools: z.array(z.string()).optional(),
  max_turns: z.number().int().positive().optional(),
  permissions: z.record(z.string(), ToolRule),
});
export type AgentTools = z.infer<typeof AgentTools>;

/** A run's agent rules as they travel: the tool settings of its `claude_cli`, nothing of the machine. */
export function agentToolsOf(claude: ResolvedConfig['claude_cli']): AgentTools {
  return {
    permission_mode: claude.permission_mode,
    dangerously_skip_permissions: claude.dangerously_skip_permissions,
    ...(claude.allowed_tools !== undefined && { allowed_tools: claude.allowed_tools }),
    ...(claude.disallowed_tools !== undefined && { disallowed_tools: claude.disallowed_tools }),
    ...(claude.max_turns !== undefined && { max_turns: claude.max_turns }),
    permissions: claude.permissions,
  };
}

/**
 * Where a Claude Code attempt works on a remote worker: a git remote both sides reach (its URL, never a
 * credential: each side uses its own machine's), the integration commit to start from, the branch it
 * fetches that commit by, and the task branch it pushes its work to.
 */
export const AgentCheckout = z.object({
  remote: z.string().min(1),
  runId: z.string(),
  /** The integration commit the attempt starts from (`orc/<runId>`'s head when it began). */
  base: z.string().regex(/^[0-9a-f]{40,64}$/),
  /** The branch on the remote that holds `base`. */
  baseBranch: z.string(),
  /** The task branch the worker pushes its commit to. */
  branch: z.string(),
  /** The commit's message. */
  message: z.string(),
  /** Where a failed attempt's work is pushed, so nothing an agent did is lost (`orc/<run>-attempts/…`). */
  keep: z.string().optional(),
  /** The run's rules for what its agents may do; the worker's own config gives the rest (command, environment). */
  tools: AgentTools,
});
export type AgentCheckout = z.infer<typeof AgentCheckout>;

/** What an agent's attempt left on the remote: its commit on the task branch, none when it changed nothing. */
export const PushedWork = z.object({
  base: z.string(),
  branch: z.string(),
  commit: z.string().optional(),
});
export type PushedWork = z.infer<typeof PushedWork>;

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
  /** A Claude Code attempt's repository: the worker clones, works in a worktree and pushes. */
  checkout: AgentCheckout.optional(),
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
    /** An agent's work, pushed before the answer was given. */
    pushed: PushedWork.optional(),
    /** Which worker answered. */
    worker: z.string(),
  }),
  z.object({ ok: z.literal(false), error: AttemptFailure, worker: z.string() }),
]);
export type AttemptResult = z.infer<typeof AttemptResult>;

/** Pub/sub: answers to the permission asks of agents on workers (`ToolAnswer`). */
export const answersChannel = (queue: string) => `${KEY_PREFIX}:${queue}:answers`;

/** A remote agent's tool call outside the run's rules, put to the daemon's inbox. */
export const ToolAsk = z.object({
  /** Unique within its job. */
  id: z.string(),
  tool: z.string(),
  input: z.record(z.string(), z.unknown()),
  /** The agent's worktree on the worker, for showing paths short. */
  workdir: z.string(),
  reason: z.string().optional(),
});
export type ToolAsk = z.infer<typeof ToolAsk>;

/** What the person (or the timeout) decided about one ask. */
export const ToolAnswer = z.object({
  jobId: z.string(),
  id: z.string(),
  decision: z.discriminatedUnion('allow', [
    z.object({ allow: z.literal(true), forSession: z.boolean().optional() }),
    z.object({ allow: z.literal(false), message: z.string(), reason: z.string() }),
  ]),
});
export type ToolAnswer = z.infer<typeof ToolAnswer>;

/** What a worker tells while it works, as the job's progress. */
export const AttemptProgress = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), text: z.string() }),
  z.object({ kind: z.literal('ask'), ask: ToolAsk }),
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
