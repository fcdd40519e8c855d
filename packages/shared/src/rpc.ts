import * as z from 'zod';
import { ConfigSchema, type ConfigInput } from './config/config.schema.js';
import { OrcEvent } from './events.js';
import { RatingScore } from './feedback.js';
import { LIMITS, tooLongMessage, tooManyMessage } from './limits.js';
import { RollbackStrategy, RunModels } from './run.js';
import { Priority, TaskId, TaskSpec, Usage } from './task.js';
import { RunSource } from './task-source.js';

/** Inputs of the daemon's procedures; the daemon validates each, so bad input is a BAD_REQUEST. */
export const RunId = z
  .string()
  .min(1, 'a run id is required')
  .max(LIMITS.idChars, tooLongMessage(LIMITS.idChars));
const Path = z.string().min(1).max(LIMITS.pathChars, tooLongMessage(LIMITS.pathChars));
const Label = z.string().max(LIMITS.labelChars, tooLongMessage(LIMITS.labelChars));
const LookupId = z.string().min(1).max(LIMITS.idChars, tooLongMessage(LIMITS.idChars));

/** A Task Master project to run: imported, and written back as tasks go. */
export const TaskMasterInput = z.strictObject({
  /** Its directory or tasks.json, absolute. */
  path: Path,
  tag: Label.min(1).optional(),
  /** The caller's environment as Task Master reads it: the daemon's own is not the user's. */
  env: z.strictObject({ TASKMASTER_TAG: z.string().optional() }).optional(),
  /** Only these tasks (`3`, `5.2`) and what they need, directly or through other tasks. */
  only: z
    .array(z.string().trim().min(1).max(LIMITS.idChars, tooLongMessage(LIMITS.idChars)))
    .min(1)
    .max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'tasks'))
    .optional(),
  /** Write progress back even on the simulated model (by default a simulated run writes nothing there). */
  writeSimulated: z.boolean().optional(),
});
export type TaskMasterInput = z.input<typeof TaskMasterInput>;

/**
 * The configuration keys a user set, as written, for the daemon to put over its own: checked against the
 * schema here, but passed on unparsed, since the schema's defaults would fill every section and hide the
 * daemon's settings under them.
 */
const RunConfigValues = z.custom<ConfigInput>().superRefine((values, ctx) => {
  const checked = ConfigSchema.safeParse(values);
  if (checked.success) return;
  for (const issue of checked.error.issues)
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
});

/**
 * Where each `section.key` of a run's config was set (a file, `environment`, `command-line flags`), so a
 * refusal names the file to fix rather than "your configuration".
 */
const ConfigFrom = z.record(z.string().max(200), z.string().max(4096));

/**
 * A run starts from a goal (the manager plans it) or from a task list (imported as given), which may carry
 * its goal (a plan `orc plan` wrote): the run's goal then, which every worker's prompt starts with. Config
 * holds what the user set (see `RunConfigValues`); the daemon adds its own configuration and API key.
 */
export const StartRunInput = z
  .strictObject({
    goal: z.string().trim().min(1).max(LIMITS.goalChars, tooLongMessage(LIMITS.goalChars)).optional(),
    // The count is checked before any task is parsed (zod checks an array's length first).
    tasks: z.array(TaskSpec).min(1).max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'tasks')).optional(),
    config: RunConfigValues.optional(),
    configFrom: ConfigFrom.optional(),
    /** Where the run's tasks came from, for the user: a file path or "goal". */
    source: Path.optional(),
    /** A Task Master project (its directory or tasks.json, absolute): imported, and written back as tasks go. */
    taskmaster: TaskMasterInput.optional(),
    /** The repository claude-code workers edit (absolute); used only when the worker provider is claude-code. */
    workdir: Path.optional(),
    /** Merge the integration branch into the starting branch when the run completes. */
    merge: z.boolean().optional(),
  })
  .refine(
    (input) =>
      [input.tasks === undefined ? input.goal : input.tasks, input.taskmaster].filter((x) => x !== undefined)
        .length === 1,
    {
      message: 'give exactly one of a goal, a task list (with its goal or not) or a Task Master project',
    },
  );
export type StartRunInput = z.input<typeof StartRunInput>;

/** `orc plan`: the manager plans a goal, and nothing runs. */
export const PlanGoalInput = z.strictObject({
  goal: z.string().trim().min(1).max(LIMITS.goalChars, tooLongMessage(LIMITS.goalChars)),
  config: RunConfigValues.optional(),
  configFrom: ConfigFrom.optional(),
});
export type PlanGoalInput = z.input<typeof PlanGoalInput>;

/** The manager's plan for a goal, with what it cost and which models made it (`simulated` is labelled). */
export const GoalPlan = z.object({
  goal: z.string(),
  summary: z.string(),
  tasks: z.array(TaskSpec),
  models: RunModels,
  usage: Usage,
  costUsd: z.number().nonnegative(),
  /** Plans the manager was asked to repair before one passed the checks. */
  repairs: z.number().int().nonnegative(),
});
export type GoalPlan = z.infer<typeof GoalPlan>;

/** What a run would do, without starting it (`orc run … --dry-run`). */
export const RunPreview = z.object({
  source: RunSource.optional(),
  models: RunModels,
  /** The tasks in the order the run would start them, one worker at a time. */
  order: z.array(
    z.object({ id: z.string(), title: z.string(), priority: Priority, dependencies: z.array(z.string()) }),
  ),
  /** Tasks shown but not run, and why: they wait for a person. */
  held: z.array(z.object({ id: z.string(), title: z.string(), status: z.string(), reason: z.string() })),
  /** Tasks already done or cancelled at the source. */
  skipped: z.array(z.string()),
  /** Tasks left out by `only`. */
  excluded: z.array(z.string()),
});
export type RunPreview = z.infer<typeof RunPreview>;

export const RunRef = z.strictObject({ runId: RunId });
/** `maxCostUsd` gives a paused run a new budget (in USD) to go on within. */
export const ResumeRunInput = z.strictObject({ runId: RunId, maxCostUsd: z.number().positive().optional() });
/** `full` adds every task's result and attempt outputs, which a large run's overview leaves out. */
export const GetRunInput = z.strictObject({ runId: RunId, full: z.boolean().optional() });
export const TaskRef = z.strictObject({ runId: RunId, taskId: LookupId });
/** `maxTaskCostUsd` raises the run's cap on a task's cost (`execution.max_task_cost_usd`) first. */
export const RetryTaskInput = z.strictObject({
  runId: RunId,
  taskId: LookupId,
  maxTaskCostUsd: z.number().positive().optional(),
});
/** Every task stopped at the cost cap of a task runs again; `maxTaskCostUsd` raises the cap first. */
export const RetryCappedInput = z.strictObject({
  runId: RunId,
  maxTaskCostUsd: z.number().positive().optional(),
});
export const EventsInput = z.strictObject({
  runId: RunId,
  /** Set by tRPC on reconnect: the id of the last event the client received. */
  lastEventId: z.union([z.string().max(LIMITS.idChars), z.number()]).nullish(),
});
/**
 * One message of `runs.eventBatches`: events in id order, as many as one group commit of the journal made
 * durable (a replay: up to a thousand). `committedAt` (ms since the epoch, the daemon's clock) is when a
 * live batch was made durable, so a client can tell how far behind it reads; a replayed batch has none.
 */
export const EventBatch = z.object({ events: z.array(OrcEvent), committedAt: z.number().optional() });
export type EventBatch = z.infer<typeof EventBatch>;

export const CreateCheckpointInput = z.strictObject({ runId: RunId, label: Label.optional() });
export const RollbackInput = z.strictObject({
  runId: RunId,
  /** A checkpoint's id, or its label. */
  checkpointId: Label.min(1),
  strategy: RollbackStrategy.default('full'),
  tasks: z.array(LookupId).max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'tasks')).optional(),
});
export type RollbackInput = z.input<typeof RollbackInput>;

/** `feedback.add`: a person rates a run, or one task of it (`orc feedback`). */
export const AddFeedbackInput = z.strictObject({
  runId: RunId,
  taskId: TaskId.optional(),
  rating: RatingScore,
  comment: z
    .string()
    .trim()
    .min(1)
    .max(LIMITS.descriptionChars, tooLongMessage(LIMITS.descriptionChars))
    .optional(),
});
export type AddFeedbackInput = z.input<typeof AddFeedbackInput>;
