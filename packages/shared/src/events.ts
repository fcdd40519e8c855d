import * as z from 'zod';
import { Rating } from './feedback.js';
import { Plan, FinalReview } from './plan.js';
import { PlanEditOrigin, TaskChanges } from './plan-edit.js';
import {
  RunModels,
  RunStatus,
  PauseReason,
  RollbackStrategy,
  CheckpointInfo,
  RunSetup,
  RunForecast,
} from './run.js';
import {
  AttemptError,
  AttemptOutcome,
  TaskRecord,
  TaskReview,
  TaskSpec,
  TaskStatus,
  ToolRefusal,
  Usage,
} from './task.js';
import { SourceChange } from './task-source.js';

/**
 * What the run has spent so far, all calls counted (the workers' and the manager's plans and reviews).
 * Carried by the first event after the run's totals changed (a model call was paid for), so a client's
 * totals match the run's.
 */
export const RunSpend = z.object({
  usage: Usage,
  costUsd: z.number().nonnegative(),
  /** Where the run is heading after this call (absent until a task has finished). */
  forecast: RunForecast.optional(),
});
export type RunSpend = z.infer<typeof RunSpend>;

/**
 * Every event of a run, on the bus, in the store (`events.jsonl`) and on the wire. `id` is monotonic per
 * run; a client that reconnects with the last id it saw receives exactly the events after it. Every
 * change to a run's task records is told by an event, so folding the journal (run-fold.ts) gives the
 * run as the daemon has it.
 */
const base = {
  id: z.number().int().nonnegative(),
  runId: z.string(),
  at: z.string(),
  spent: RunSpend.optional(),
};
const task = { ...base, taskId: z.string() };

export const OrcEvent = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run.created'),
    goal: z.string(),
    models: RunModels,
    maxWorkers: z.number(),
    /** Absent in journals written before it was added. */
    setup: RunSetup.optional(),
  }),
  z.object({ ...base, type: z.literal('run.planning'), attempt: z.number().int().positive() }),
  z.object({
    ...base,
    type: z.literal('run.plan_rejected'),
    attempt: z.number().int(),
    error: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal('run.planned'),
    summary: z.string(),
    tasks: Plan.shape.tasks,
  }),
  z.object({ ...base, type: z.literal('run.status'), status: RunStatus }),
  /** A person answered the plan: approved it, asked the manager to change it (the note says how), or refused it. */
  z.object({
    ...base,
    type: z.literal('run.plan_answered'),
    decision: z.enum(['approve', 'edit', 'refuse']),
    note: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('run.paused'),
    reason: PauseReason,
    message: z.string().optional(),
    /** A quota pause with a known reset: the run resumes by itself then (ISO time). */
    resumeAt: z.string().optional(),
    /** A quota pause: the model whose quota is out. */
    model: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal('run.resumed') }),
  /** The run paused at its budget: what it has spent reached the limit. */
  z.object({
    ...base,
    type: z.literal('run.budget_exceeded'),
    costUsd: z.number(),
    limitUsd: z.number(),
  }),
  /**
   * The run paused before work that would take it past its budget: the next task's attempt and review
   * (or the final review: no `nextTask`) did not fit beside what was spent and what is under way. Journals
   * written before it told this as `run.budget_exceeded`, which read as a budget already passed.
   */
  z.object({
    ...base,
    type: z.literal('run.budget_would_exceed'),
    costUsd: z.number(),
    limitUsd: z.number(),
    /** What the next work is expected to cost (USD). */
    neededUsd: z.number(),
    /** What the work under way is still expected to cost (USD). */
    underWayUsd: z.number(),
    /** The task that did not fit (not `taskId`: the event is the run's, not the task's). */
    nextTask: z.string().optional(),
  }),
  /** A person set the run's budget (on resume). */
  z.object({ ...base, type: z.literal('run.budget_set'), limitUsd: z.number() }),
  /** A person set the run's cap on one task's cost, `execution.max_task_cost_usd` (on a retry). */
  z.object({ ...base, type: z.literal('run.task_budget_set'), limitUsd: z.number() }),
  z.object({ ...base, type: z.literal('run.concurrency'), limit: z.number().int(), reason: z.string() }),
  z.object({ ...base, type: z.literal('run.completed'), review: FinalReview }),
  z.object({
    ...base,
    type: z.literal('run.failed'),
    error: z.string(),
    /** The manager's final review of a run that did not complete, when it wrote one. */
    review: FinalReview.optional(),
  }),
  z.object({ ...base, type: z.literal('run.cancelled') }),
  z.object({
    ...base,
    type: z.literal('run.restored'),
    /** The tasks in flight when the daemon stopped: each goes back to the queue. */
    interruptedTasks: z.array(z.string()),
    /**
     * Those of them whose answer was kept: only its review is made again, not the work (a task cut off
     * in review). Absent in older journals, which did not tell them apart.
     */
    reviewAgain: z.array(z.string()).optional(),
    /**
     * The last moment the stopped daemon was known alive for the run (its last journalled event): the
     * attempts it cut off ended then, not at the restart. Absent in older journals (they ended at `at`).
     */
    lastAliveAt: z.string().optional(),
  }),
  /** A run that edits a repository left its work on the integration branch, or merged it. */
  z.object({
    ...base,
    type: z.literal('run.integrated'),
    branch: z.string(),
    merged: z.boolean(),
    message: z.string(),
  }),
  /** The merge train runs `integration.verify` on `commit`: these tasks merged onto the integration head. */
  z.object({
    ...base,
    type: z.literal('train.verifying'),
    taskIds: z.array(z.string()),
    commit: z.string(),
  }),
  /** Its verdict; a failure's output tail goes to the task as rework feedback, `reason` says it in a line. */
  z.object({
    ...base,
    type: z.literal('train.verified'),
    taskIds: z.array(z.string()),
    commit: z.string(),
    passed: z.boolean(),
    exitCode: z.number().int().nullable(),
    timedOut: z.boolean(),
    durationMs: z.number().nonnegative(),
    reason: z.string().optional(),
  }),
  /** The integration branch moved to `commit`, which passed the verify, with these tasks' work. */
  z.object({
    ...base,
    type: z.literal('train.landed'),
    taskIds: z.array(z.string()),
    commit: z.string(),
  }),
  z.object({ ...base, type: z.literal('checkpoint.created'), checkpoint: CheckpointInfo }),
  /**
   * A person asked for a rollback and the run began it: once this is in the journal the rollback happens,
   * after a crash too (the restored run finishes it), unless `run.rollback_failed` follows.
   */
  z.object({
    ...base,
    type: z.literal('run.rollback_started'),
    checkpointId: z.string(),
    strategy: RollbackStrategy,
    tasks: z.array(z.string()).optional(),
  }),
  /** A rollback could not be made (a revert that conflicts, a checkpoint that cannot be read): nothing changed. */
  z.object({ ...base, type: z.literal('run.rollback_failed'), checkpointId: z.string(), error: z.string() }),
  /** The rollback is done: the tasks are as `strategy` makes them from the checkpoint. */
  z.object({
    ...base,
    type: z.literal('run.rolled_back'),
    checkpointId: z.string(),
    strategy: RollbackStrategy,
    resetTasks: z.array(z.string()),
    /**
     * Every task record the rollback changed, as it is after it; with `allTasks`, every task of the run
     * in order (the rollback changed which tasks there are). Absent in journals written before it was
     * added, and when the records would make too large an event: a client then fetches the run again.
     */
    tasks: z.array(TaskRecord).optional(),
    allTasks: z.boolean().optional(),
    /** The checkpoint's plan summary, when a full rollback brought back another one. */
    planSummary: z.string().optional(),
  }),
  /** Tasks added to the running plan (by a person through orc, or at the run's source): they wait to run. */
  z.object({
    ...base,
    type: z.literal('plan.tasks_added'),
    tasks: z.array(TaskSpec),
    origin: PlanEditOrigin,
  }),
  /**
   * Tasks removed from the running plan, with every task that waited for them (a cascade) named in
   * `taskIds`; the tasks left lose their dependencies on them.
   */
  z.object({
    ...base,
    type: z.literal('plan.tasks_removed'),
    taskIds: z.array(z.string()),
    origin: PlanEditOrigin,
  }),
  /** A person changed a task's spec; a cancelled task goes back to waiting (its `task.status` tells it). */
  z.object({ ...task, type: z.literal('task.edited'), changes: TaskChanges, origin: PlanEditOrigin }),
  z.object({
    ...task,
    type: z.literal('task.status'),
    status: TaskStatus,
    /** The status it left, so a client holding a page of the tasks keeps the counts (absent in older journals). */
    from: TaskStatus.optional(),
    reason: z.string().optional(),
    /** Back to ready with this feedback for its next attempt (a rework, a merge conflict): one more rework. */
    feedback: z.string().optional(),
    /** Blocked because it is held at its source (Task Master): `reason` says why. */
    held: z.boolean().optional(),
    /** To reviewing straight from ready, by this worker: its answer was journalled before a restart. */
    worker: z.number().int().optional(),
  }),
  z.object({
    ...task,
    type: z.literal('task.assigned'),
    worker: z.number().int(),
    attempt: z.number().int(),
  }),
  /**
   * A worker's output as it streams, a piece at least 100 ms apart. A model's answer that comes whole
   * (at once, or its last piece at its end) is told once, by its `task.worked` (see `streamed`).
   */
  z.object({ ...task, type: z.literal('worker.output'), worker: z.number().int(), text: z.string() }),
  /** An agent's session id is known (claude-code); `resumes` when it goes on with an earlier attempt's. */
  z.object({
    ...task,
    type: z.literal('task.session'),
    attempt: z.number().int(),
    sessionId: z.string(),
    resumes: z.number().int().optional(),
  }),
  /** The agent was refused a tool call (outside the permission mode and allowed tools). */
  z.object({
    ...task,
    type: z.literal('task.tool_refused'),
    attempt: z.number().int(),
    refusal: ToolRefusal,
  }),
  /**
   * An attempt ended without an answer (its record is final): how, what it cost, and why it failed. `at`
   * is when it ended. An answer is `task.worked`; journals written before it tell one here, with its
   * `output`. Absent in journals written before it was added.
   */
  z.object({
    ...task,
    type: z.literal('task.attempt_ended'),
    attempt: z.number().int(),
    outcome: AttemptOutcome,
    usage: Usage,
    costUsd: z.number(),
    output: z.string().optional(),
    error: AttemptError.optional(),
  }),
  /**
   * A worker's attempt succeeded (its record is final): what it cost, its output, and for a repository
   * run its diff (bounded), journalled as it arrives, so a restart sends the task to its review rather
   * than to another worker.
   */
  z.object({
    ...task,
    type: z.literal('task.worked'),
    attempt: z.number().int(),
    output: z.string(),
    /**
     * The output was the worker's stream, and `worker.output` events told only its first `streamed`
     * characters (UTF-16 units): the rest is told here alone (see `untoldOutput`), so the output crosses
     * the wire once (all of it: the stream told the whole answer). Absent: the stream told everything it
     * had and was not the answer (an agent's narration of its steps), or a journal from before it.
     */
    streamed: z.number().int().nonnegative().optional(),
    diff: z.string().optional(),
    usage: Usage,
    costUsd: z.number(),
  }),
  z.object({
    ...task,
    type: z.literal('task.attempt_failed'),
    attempt: z.number().int(),
    error: AttemptError,
    retryInMs: z.number().optional(),
  }),
  /**
   * The manager's review of an attempt was paid for: part of what the attempt cost. Told alone for a
   * review whose verdict was not applied (its task was taken back meanwhile); an applied one's charge is
   * in its `task.reviewed`. Every review's, in journals written before `task.reviewed` carried it.
   */
  z.object({
    ...task,
    type: z.literal('task.review_charged'),
    attempt: z.number().int(),
    usage: Usage,
    costUsd: z.number().nonnegative(),
  }),
  z.object({
    ...task,
    type: z.literal('task.reviewed'),
    attempt: z.number().int(),
    review: TaskReview,
    /**
     * What the review cost, added to the attempt's (absent in journals that told it in a
     * `task.review_charged` before this event). One event, not two: a task's life is a handful of events.
     */
    charge: z.object({ usage: Usage, costUsd: z.number().nonnegative() }).optional(),
    /** What the reviewed attempt cost, in journals written before `task.attempt_ended` told it. */
    usage: Usage.optional(),
    costUsd: z.number().optional(),
  }),
  z.object({
    ...task,
    type: z.literal('task.completed'),
    attempt: z.number().int(),
    /**
     * The task's result, when it is not the output of the attempt's `task.worked` (see `completedResult`);
     * absent, it is that output, which is not told twice. Journals written before tell it always.
     */
    result: z.string().optional(),
    usage: Usage,
    costUsd: z.number(),
  }),
  z.object({ ...task, type: z.literal('task.failed'), error: z.string() }),
  /** A person changed the task at the run's source (Task Master); their change wins. */
  z.object({ ...task, type: z.literal('task.source_changed'), change: SourceChange }),
  /**
   * A stopped task's error says anew what a retry needs: the run's cost cap of a task changed since it
   * stopped at it (a trial's task kept advising a cap under the one a person had raised the run's to).
   */
  z.object({ ...task, type: z.literal('task.error_revised'), error: z.string() }),
  /**
   * The files a repository run's task changed, read from its accepted diff: the scheduler keeps the task
   * apart from others touching them when it runs again.
   */
  z.object({ ...task, type: z.literal('task.touched'), files: z.array(z.string()) }),
  /** A person rated the run's work, or one task's (`rating.taskId`): kept with the run and in its report. */
  z.object({ ...base, type: z.literal('feedback.rated'), rating: Rating }),
]);
export type OrcEvent = z.infer<typeof OrcEvent>;
export type OrcEventType = OrcEvent['type'];

/** An event before the store gives it its id. */
export type NewEvent = OrcEvent extends infer E
  ? E extends OrcEvent
    ? Omit<E, 'id' | 'runId' | 'at'>
    : never
  : never;

/** An event about one task. */
export type TaskEventOf = Extract<OrcEvent, { taskId: string }>;

/**
 * What a `task.worked` tells of the worker's output that its `worker.output` events did not: a client
 * that shows the stream (a worker's pane, `orc logs`) shows this after it. Empty when there is none.
 */
export function untoldOutput(event: Extract<OrcEvent, { type: 'task.worked' }>): string {
  return event.streamed === undefined ? '' : event.output.slice(event.streamed);
}

/**
 * The result a `task.completed` gives its task: its own, or else the output its attempt's `task.worked`
 * told (`output`, as the task's record holds it; undefined where the record's outputs were left out).
 */
export function completedResult(
  event: Extract<OrcEvent, { type: 'task.completed' }>,
  output: string | undefined,
): string | undefined {
  return event.result ?? output;
}
