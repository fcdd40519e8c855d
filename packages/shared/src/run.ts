import * as z from 'zod';
import { ProviderName } from './config/config.schema.js';
import { Rating } from './feedback.js';
import { FinalReview } from './plan.js';
import { TaskRecord, Usage } from './task.js';
import { RunSource, StoredRunSource } from './task-source.js';

export const RunStatus = z.enum([
  'analyzing',
  /** Planned, and waiting for a person to approve, edit or refuse the plan (`execution.approve_plan`). */
  'awaiting_approval',
  'executing',
  'paused',
  'reviewing',
  'completed',
  'failed',
  'cancelled',
  /** Its files on disk could not be read back and the run could not be rebuilt: kept as it is, not run. */
  'damaged',
]);
export type RunStatus = z.infer<typeof RunStatus>;

export const FINISHED_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled']);

/**
 * A damaged file of a run: which one and what is wrong with it. `rebuiltFrom` says what the run was
 * rebuilt from (a checkpoint and the journal, or the journal alone); without it, a `damaged` run is kept
 * as it is, and any other run read whole from its document has a history (its journal) that cannot be
 * read whole.
 */
export const RunDamage = z.object({
  file: z.string(),
  reason: z.string(),
  rebuiltFrom: z.string().optional(),
  /** Where the damaged file was copied before the rebuilt one replaced it. */
  keptAs: z.string().optional(),
  /** A hole in the journal: the last event missing, after which a read goes on (`orc logs --after`). */
  readsOnAfter: z.number().int().nonnegative().optional(),
  /** When the damage was found. */
  at: z.string(),
});
export type RunDamage = z.infer<typeof RunDamage>;

/**
 * What a person can do about a journal that cannot be read whole, for `orc logs`, `orc show` and `orc
 * doctor` alike: read on past a hole, and put a good copy back to read every event.
 */
export function damagedHistoryFix(runId: string, damage: Pick<RunDamage, 'file' | 'readsOnAfter'>): string {
  const fix = `fix: put back a good copy of ${damage.file} and restart the daemon (orc daemon stop, then orc daemon start)`;
  return damage.readsOnAfter === undefined
    ? `${fix} to read the rest`
    : `orc logs ${runId} --after ${damage.readsOnAfter} reads on past it; ${fix} to read them all`;
}

/**
 * Why a run waits: a person paused it, its budget is spent, the provider refused the key, the quota is
 * out (a usage or rate limit of the account; the run goes on by itself at `resumeAt` when known), the
 * state directory cannot be written, the file its tasks come from (Task Master) cannot be read, or the
 * merge train's verify command cannot run or fails on the integration branch before any merge, all the
 * work left waits for a task a person cancelled (`held`: edit, retry or remove it), or the Redis server
 * attempts go through cannot be reached (`backend`), or a person rolled it back (`rollback`: it waits for
 * `orc resume` with the tasks the rollback reset).
 */
export const PauseReason = z.enum([
  'user',
  'budget',
  'provider',
  'quota',
  'storage',
  'source',
  'verify',
  'held',
  /** The Redis server of `execution.backend: "redis"` cannot be reached: the run goes on once it can. */
  'backend',
  /** A person rolled it back (or the rollback failed, changing nothing): it goes on with `orc resume`. */
  'rollback',
]);
export type PauseReason = z.infer<typeof PauseReason>;

/** Which models a run uses and whether they are real; `simulated` is always shown to the user. */
export const RunModels = z.object({
  manager: z.object({ provider: ProviderName, model: z.string() }),
  worker: z.object({ provider: ProviderName, model: z.string() }),
  simulated: z.boolean(),
});
export type RunModels = z.infer<typeof RunModels>;

/**
 * The label a run's models earn, always shown: `SIMULATED` when no real model works on it, `SIMULATED
 * manager` or `SIMULATED workers` when only one role is (real Claude Code agents under a simulated
 * manager did real work); undefined when both are real.
 */
export function simulatedRoles(models: RunModels): string | undefined {
  const manager = models.manager.provider === 'simulated';
  const worker = models.worker.provider === 'simulated';
  if (manager && worker) return 'SIMULATED';
  if (manager) return 'SIMULATED manager';
  return worker ? 'SIMULATED workers' : undefined;
}

/** What a run's time is made of: its life, less the time it did no work (see `trackIdle`). */
export interface RunSpan {
  createdAt: string;
  finishedAt?: string | undefined;
  idleMs?: number | undefined;
  idleSince?: string | undefined;
}

/**
 * How long a run has worked (ms) by `now`: from its creation to its end, less the time it was paused or
 * finished before a retry or rollback reopened it. A run rolled back after an hour's pause worked for
 * what it ran, not for the hour (`orc ls` TIME, `orc show`, the report's makespan).
 */
export function runWorkMs(run: RunSpan, now: number): number {
  const end = run.finishedAt ?? run.idleSince;
  const to = end !== undefined ? Date.parse(end) : now;
  return Math.max(0, to - Date.parse(run.createdAt) - (run.idleMs ?? 0));
}

/** How long the run has not worked by `now` (ms): its closed idle spans and the pause it is in. */
export function runIdleMs(run: Pick<RunSpan, 'idleMs' | 'idleSince'>, now: number): number {
  const open = run.idleSince !== undefined ? Math.max(0, now - Date.parse(run.idleSince)) : 0;
  return (run.idleMs ?? 0) + open;
}

/**
 * How long a task has worked (ms) by `now`: each of its attempts from its start to its end (its answer,
 * or where it failed or was cut off), summed; an attempt in flight counts until `now`. The waits between
 * attempts, its reviews and the time its run was paused or rolled back are not its time: measured from
 * its first start to its end, a task reset by a rollback took "6m05s" in a run of 1m09s.
 */
export function taskWorkMs(task: Pick<TaskRecord, 'attempts'>, now: number): number {
  let ms = 0;
  for (const attempt of task.attempts) {
    const end =
      attempt.endedAt !== undefined ? Date.parse(attempt.endedAt) : attempt.outcome === 'running' ? now : NaN;
    const span = end - Date.parse(attempt.startedAt);
    if (span > 0) ms += span;
  }
  return ms;
}

/**
 * A run's idle time (`run`, changed in place) as its status moves from `from` (with when it finished, if
 * it had) to `to` at `at`: a pause opens an idle span and leaving it closes it; reopening a finished run
 * (a retry, a skip, a rollback) counts the time since it finished as idle. The daemon's run and every fold
 * of the journal keep it by this one rule, from the same events (`statusToldBy`), so both have the same
 * figures to the millisecond.
 */
export function trackIdle(
  run: Pick<RunSpan, 'idleMs' | 'idleSince'>,
  from: { status: RunStatus; finishedAt?: string | undefined },
  to: RunStatus,
  at: string,
): void {
  const spanSince = (since: string) => Math.max(0, Date.parse(at) - Date.parse(since));
  if (
    FINISHED_RUN_STATUSES.has(from.status) &&
    !FINISHED_RUN_STATUSES.has(to) &&
    from.finishedAt !== undefined
  )
    run.idleMs = (run.idleMs ?? 0) + spanSince(from.finishedAt);
  if (to === 'paused' && run.idleSince === undefined) run.idleSince = at;
  else if (to !== 'paused' && run.idleSince !== undefined) {
    run.idleMs = (run.idleMs ?? 0) + spanSince(run.idleSince);
    delete run.idleSince;
  }
}

/**
 * A restored run's idle time (`run`, changed in place): the daemon was down from `lastAliveAt` (its last
 * journalled event) to the restart at `at`, and did no work then. A paused run's open span covers that
 * already. Without it, a run's working time counted the downtime after a kill -9 (`run.restored`).
 */
export function trackDowntime(
  run: Pick<RunSpan, 'idleMs' | 'idleSince'>,
  lastAliveAt: string,
  at: string,
): void {
  if (run.idleSince !== undefined) return;
  run.idleMs = (run.idleMs ?? 0) + Math.max(0, Date.parse(at) - Date.parse(lastAliveAt));
}

/** ` [SIMULATED]` (or which role is) after a run's name in a line of text; empty for real models. */
export function simulatedLabel(run: { models: RunModels }): string {
  const roles = simulatedRoles(run.models);
  return roles === undefined ? '' : ` [${roles}]`;
}

/**
 * That a simulated model's tokens are priced as a real model's would be and nothing is paid for them, said
 * beside a run's cost so "$0.02" is not read as money gone; undefined for real models.
 */
export function simulatedSpendNote(models: RunModels): string | undefined {
  const roles = simulatedRoles(models);
  if (roles === undefined) return undefined;
  if (roles === 'SIMULATED') return 'simulated tokens at real prices: nothing was spent';
  const whose = models.manager.provider === 'simulated' ? "the manager's" : "the workers'";
  return `${whose} part is simulated tokens at real prices: not spent`;
}

/**
 * Where a live run is heading, from its spend so far: its total cost (what it spent, and what each
 * finished task cost on average times the tasks left) and when it finishes (the tasks left at the pace
 * of the recent ones, after a quota wait's end). Absent until a task has finished.
 */
export const RunForecast = z.object({
  costUsd: z.number().nonnegative(),
  /** ISO time; absent while the run waits for a person, or until tasks finish at a known pace. */
  finishAt: z.string().optional(),
  /**
   * Why `finishAt` is absent: the run waits for a person (`person`), or no task has finished since the
   * pace was last measured afresh (a restart, a rollback: `pace`).
   */
  noFinishAt: z.enum(['person', 'pace']).optional(),
});
export type RunForecast = z.infer<typeof RunForecast>;

/** The counts a list or a header shows, kept up to date as the run goes. */
export const TaskCounts = z.record(z.string(), z.number().int().nonnegative());
export type TaskCounts = z.infer<typeof TaskCounts>;

export const RunSummary = z.object({
  id: z.string(),
  /** Cut to `LIMITS.summaryGoalChars` with "…" (see `summaryGoal`); a run's view has the whole goal. */
  goal: z.string(),
  status: RunStatus,
  pauseReason: PauseReason.optional(),
  /** What the pause says to a person: why the disk takes no writes, what the provider answered, … */
  pauseMessage: z.string().optional(),
  /** When a run paused by a usage limit goes on by itself (ISO time). */
  resumeAt: z.string().optional(),
  /** The model whose quota a run paused for `quota` waits for. */
  quotaModel: z.string().optional(),
  models: RunModels,
  maxWorkers: z.number().int().positive(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Time the run did no work, in closed spans (ms): paused, or finished before a retry or rollback reopened it. */
  idleMs: z.number().nonnegative().optional(),
  /** When the pause the run is in began (ISO time). */
  idleSince: z.string().optional(),
  taskCounts: TaskCounts,
  taskTotal: z.number().int().nonnegative(),
  usage: Usage,
  costUsd: z.number().nonnegative(),
  error: z.string().optional(),
  /** A live run's expected total cost and finish time. */
  forecast: RunForecast.optional(),
  lastEventId: z.number().int().nonnegative(),
  /** Where the tasks came from and whether progress is written back there (Task Master). */
  source: RunSource.optional(),
  /** Set when a file of the run was found damaged: the run was rebuilt, or it is `damaged`. */
  damage: RunDamage.optional(),
});
export type RunSummary = z.infer<typeof RunSummary>;

/** What the merge train is verifying now, and the last verdict it reached. */
export const TrainView = z.object({
  verifying: z
    .object({
      /** Empty: the integration head itself, checked before anything is merged onto it. */
      taskIds: z.array(z.string()),
      commit: z.string(),
      since: z.string(),
    })
    .optional(),
  last: z
    .object({
      taskIds: z.array(z.string()),
      commit: z.string(),
      passed: z.boolean(),
      at: z.string(),
      /** Why it failed, in one line. */
      reason: z.string().optional(),
    })
    .optional(),
});
export type TrainView = z.infer<typeof TrainView>;

/**
 * Everything a client needs to draw a run: the summary, the reviews, and its tasks in the run's order from
 * the first: every one (`tasks.length === taskTotal`) with `full` or in a run of at most
 * `TASK_PAGE_LIMIT`, else the first page, and `tasks.page` serves the rest.
 */
export const RunView = RunSummary.extend({
  /** The whole goal, as given. */
  goal: z.string(),
  planSummary: z.string().optional(),
  tasks: z.array(TaskRecord),
  finalReview: FinalReview.optional(),
  busyWorkers: z.number().int().nonnegative(),
  /** People's ratings of the run and its tasks, oldest first (`orc feedback`). */
  ratings: z.array(Rating).optional(),
  /** The merge train (a repository run with `integration.verify`); waiting tasks are those `merging` not in it. */
  train: TrainView.optional(),
  /**
   * Tasks done whose completion is not on disk yet, shown as still reviewing: set only while the run's
   * journal cannot be written (a full disk). Their completion is not among the events after
   * `lastEventId`, so a client fetches the view again once events come (`wantsFreshView`).
   */
  unconfirmed: z.array(z.string()).optional(),
});
export type RunView = z.infer<typeof RunView>;

/** The repository a run's workers edit (claude-code): each attempt in a worktree, accepted work merged. */
export const RunWorkspace = z.object({
  workdir: z.string(),
  merge: z.boolean(),
  /** Where the run started (branch and commit), for the fast-forward at the end. */
  start: z.object({ branch: z.string().optional(), commit: z.string() }).optional(),
  /** The git URL `orc worker` processes clone and push to, for a run whose agents run on other machines. */
  remote: z.string().optional(),
});
export type RunWorkspace = z.infer<typeof RunWorkspace>;

/**
 * What a run was started with beyond its goal and models, as `run.created` records it: with it the
 * journal alone can rebuild the run when its document and checkpoints are lost.
 */
export const RunSetup = z.object({
  /** The resolved config (never holds the API key). */
  config: z.record(z.string(), z.unknown()),
  /** Tasks were given rather than planned. */
  importedTasks: z.boolean(),
  heldTasks: z.record(z.string(), z.string()).optional(),
  source: StoredRunSource.optional(),
  workspace: RunWorkspace.optional(),
});
export type RunSetup = z.infer<typeof RunSetup>;

/**
 * How a rollback treats the tasks (and, for a repository run, the files):
 * - full: every task as it was at the checkpoint; the integration branch reset to its commit;
 * - partial: as at the checkpoint, except tasks finished since whose inputs did not change (same spec,
 *   every dependency kept with the same result) keep their results; files are left alone;
 * - selective: only the named tasks and every task downstream of them are reset; their merges are reverted.
 */
export const RollbackStrategy = z.enum(['full', 'partial', 'selective']);
export type RollbackStrategy = z.infer<typeof RollbackStrategy>;

/** Each strategy in one line, as the CLI and the terminal UI describe it (see the comment above). */
export const ROLLBACK_STRATEGY_SUMMARY: Readonly<Record<RollbackStrategy, string>> = {
  full: 'every task as it was at the checkpoint; a repository run resets its branch to the checkpoint too',
  partial:
    'as at the checkpoint, but tasks finished since whose inputs did not change keep their results; files stay',
  selective:
    'only the chosen tasks and every task that depends on them; a repository run reverts their merges',
};

/** What `checkpoints.rollback` answers: the run after it, and which tasks it reset and which done ones it kept. */
export const RollbackResult = RunSummary.extend({
  rollback: z.object({
    checkpointId: z.string(),
    strategy: RollbackStrategy,
    reset: z.array(z.string()),
    kept: z.array(z.string()),
  }),
});
export type RollbackResult = z.infer<typeof RollbackResult>;

/**
 * A saved copy of a run's state. `files` is reserved for runs whose workers edit a repository: the
 * integration branch commit recorded with the state.
 */
export const CheckpointInfo = z.object({
  id: z.string(),
  runId: z.string(),
  label: z.string().optional(),
  createdAt: z.string(),
  reason: z.enum(['planned', 'progress', 'manual', 'before-rollback']),
  tasksDone: z.number().int().nonnegative(),
  lastEventId: z.number().int().nonnegative(),
  files: z.object({ branch: z.string(), commit: z.string() }).optional(),
});
export type CheckpointInfo = z.infer<typeof CheckpointInfo>;
