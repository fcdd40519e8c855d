import * as z from 'zod';
import { Plan, FinalReview } from './plan.js';
import {
  RunModels,
  RunStatus,
  PauseReason,
  RollbackStrategy,
  CheckpointInfo,
  RunSetup,
  RunForecast,
} from './run.js';
import { AttemptError, TaskReview, TaskStatus, ToolRefusal, Usage } from './task.js';
import { SourceChange } from './task-source.js';

/**
 * Every event of a run, on the bus, in the store (`events.jsonl`) and on the wire. `id` is monotonic per
 * run; a client that reconnects with the last id it saw receives exactly the events after it.
 */
const base = { id: z.number().int().nonnegative(), runId: z.string(), at: z.string() };
const task = { ...base, taskId: z.string() };

/**
 * What the run has spent so far, all calls counted (the workers' and the manager's plans and reviews).
 * Carried by the events that follow a model call, so a client's totals match the run's (RUN_SPEND_EVENTS).
 */
export const RunSpend = z.object({
  usage: Usage,
  costUsd: z.number().nonnegative(),
  /** Where the run is heading after this call (absent until a task has finished). */
  forecast: RunForecast.optional(),
});
export type RunSpend = z.infer<typeof RunSpend>;
const spent = { spent: RunSpend.optional() };

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
    ...spent,
    type: z.literal('run.plan_rejected'),
    attempt: z.number().int(),
    error: z.string(),
  }),
  z.object({
    ...base,
    ...spent,
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
  z.object({
    ...base,
    type: z.literal('run.budget_exceeded'),
    costUsd: z.number(),
    limitUsd: z.number(),
  }),
  /** A person set the run's budget (on resume). */
  z.object({ ...base, type: z.literal('run.budget_set'), limitUsd: z.number() }),
  z.object({ ...base, type: z.literal('run.concurrency'), limit: z.number().int(), reason: z.string() }),
  z.object({ ...base, ...spent, type: z.literal('run.completed'), review: FinalReview }),
  z.object({ ...base, ...spent, type: z.literal('run.failed'), error: z.string() }),
  z.object({ ...base, type: z.literal('run.cancelled') }),
  z.object({ ...base, type: z.literal('run.restored'), interruptedTasks: z.array(z.string()) }),
  /** A run that edits a repository left its work on the integration branch, or merged it. */
  z.object({
    ...base,
    type: z.literal('run.integrated'),
    branch: z.string(),
    merged: z.boolean(),
    message: z.string(),
  }),
  z.object({ ...base, type: z.literal('checkpoint.created'), checkpoint: CheckpointInfo }),
  z.object({
    ...base,
    type: z.literal('run.rolled_back'),
    checkpointId: z.string(),
    strategy: RollbackStrategy,
    resetTasks: z.array(z.string()),
  }),
  z.object({
    ...task,
    type: z.literal('task.status'),
    status: TaskStatus,
    /** The status it left, so a client holding a page of the tasks keeps the counts (absent in older journals). */
    from: TaskStatus.optional(),
    reason: z.string().optional(),
  }),
  z.object({
    ...task,
    type: z.literal('task.assigned'),
    worker: z.number().int(),
    attempt: z.number().int(),
  }),
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
  z.object({
    ...task,
    ...spent,
    type: z.literal('task.attempt_failed'),
    attempt: z.number().int(),
    error: AttemptError,
    retryInMs: z.number().optional(),
  }),
  z.object({
    ...task,
    ...spent,
    type: z.literal('task.reviewed'),
    attempt: z.number().int(),
    review: TaskReview,
    /** What the reviewed attempt cost (absent in journals written before it was added). */
    usage: Usage.optional(),
    costUsd: z.number().optional(),
  }),
  z.object({
    ...task,
    ...spent,
    type: z.literal('task.completed'),
    attempt: z.number().int(),
    result: z.string(),
    usage: Usage,
    costUsd: z.number(),
  }),
  z.object({ ...task, type: z.literal('task.failed'), error: z.string() }),
  /** A person changed the task at the run's source (Task Master); their change wins. */
  z.object({ ...task, type: z.literal('task.source_changed'), change: SourceChange }),
]);
export type OrcEvent = z.infer<typeof OrcEvent>;
export type OrcEventType = OrcEvent['type'];

/** An event before the store gives it its id. */
export type NewEvent = OrcEvent extends infer E
  ? E extends OrcEvent
    ? Omit<E, 'id' | 'runId' | 'at'>
    : never
  : never;

/** The events that carry the run's spend (`spent`): each follows a model call the run paid for. */
export const RUN_SPEND_EVENTS: ReadonlySet<OrcEventType> = new Set([
  'run.plan_rejected',
  'run.planned',
  'run.completed',
  'run.failed',
  'task.attempt_failed',
  'task.reviewed',
  'task.completed',
]);
