const MiB = 1024 * 1024;

/**
 * What a run may be given. The daemon's input schemas and the CLI check these same numbers, so a
 * mistake is caught before anything is sent and again by the daemon for any other client.
 *
 * A 10 MB goal used to be accepted and made a 262 MB run directory (it was copied into every checkpoint
 * and into `runs/index.json`); the text limits keep one field from dominating a run. The sizes admit the
 * 100,000-task runs the engine is built for: a 20 MB task file of 100,000 tasks passes with room.
 */
export const LIMITS = {
  /** A goal in words for the manager to plan: about 25,000 tokens, room for a pasted spec. */
  goalChars: 100_000,
  /** One line on a screen; Task Master titles are a sentence. */
  titleChars: 500,
  descriptionChars: 20_000,
  /** Extra instructions for the worker (Task Master's `details`): about 25,000 tokens. */
  detailsChars: 100_000,
  /** Tasks in one run, and dependencies of one task. */
  tasks: 100_000,
  /** A tasks file (ours or Task Master's `tasks.json`), in bytes. */
  taskFileBytes: 32 * MiB,
  /** Free text beside the work: a checkpoint label, a Task Master tag. */
  labelChars: 200,
  /** A path the client passes (a tasks file, a project, a repository). */
  pathChars: 4_096,
  /** An id given to look something up (run, task, checkpoint). */
  idChars: 128,
  /** The goal as `runs.list` and every other summary carry it; `runs.get` has the whole goal. */
  summaryGoalChars: 200,
} as const;

/**
 * Bounds on one client connection to the daemon, so one client cannot take the daemon down. One frame of
 * 2,000 batched `runs.get` calls on a 10,000-task run, sent by a client that never read, held 3.1 GB after
 * 30 s and killed the daemon (V8 out of memory in JSON.stringify) after 67 s. Past a bound the daemon
 * closes the connection with a close code from the daemon's `rpc/close-codes.ts`.
 */
export const RPC_LIMITS = {
  /** Largest message a client may send: the largest task file plus room for config and framing. */
  requestBytes: LIMITS.taskFileBytes + 8 * MiB,
  /**
   * Largest message the daemon sends; a larger reply is answered with a PAYLOAD_TOO_LARGE error
   * instead. `runs.get` of a finished 100,000-task run is about 55 MB plus its task text (550 bytes a
   * task measured at 10,000 tasks), so every run the input limits admit can be shown.
   */
  replyBytes: 128 * MiB,
  /** Queries and mutations sent and not yet answered. */
  callsInFlight: 64,
  subscriptions: 128,
  /**
   * Calls one message may batch: everything a connection may have open, since a client that reconnects
   * sends all its subscriptions again in one message.
   */
  callsPerMessage: 64 + 128,
  /**
   * Bytes queued to a client's socket above which its next call, and its subscriptions' next messages,
   * wait for the socket to drain: a subscriber slower than the run falls behind, and gets every event.
   */
  pacedBytes: 8 * MiB,
} as const;

/** A summary's copy of a goal: the first `LIMITS.summaryGoalChars` characters, with "…" when cut. */
export function summaryGoal(goal: string): string {
  return goal.length <= LIMITS.summaryGoalChars ? goal : `${goal.slice(0, LIMITS.summaryGoalChars - 1)}…`;
}

/**
 * `12,345` for counts in messages. Whole numbers are grouped by hand: toLocaleString's first call
 * loads ICU's number formats, 80 ms of the CPU of a daemon's first run (CPU profile of the bench).
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
}

/** `40 MiB`, `1.5 MiB`, `900 KiB` for sizes in messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB) return `${trim(bytes / MiB)} MiB`;
  if (bytes >= 1024) return `${trim(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * zod's message for a string over its limit: `2,000 characters, over the limit of 500`; the path the
 * message is shown with names the field.
 */
export function tooLongMessage(limit: number) {
  return {
    error: (issue: { input?: unknown }) =>
      `${formatCount(lengthOf(issue.input))} characters, over the limit of ${formatCount(limit)}`,
  };
}

/** zod's message for a list over its limit: `100,001 tasks, over the limit of 100,000`. */
export function tooManyMessage(limit: number, what: string) {
  return {
    error: (issue: { input?: unknown }) =>
      `${formatCount(lengthOf(issue.input))} ${what}, over the limit of ${formatCount(limit)}`,
  };
}

function lengthOf(input: unknown): number {
  return typeof input === 'string' || Array.isArray(input) ? input.length : 0;
}
