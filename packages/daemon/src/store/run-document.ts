import type { RunSetup } from '@orc/shared';
import {
  CheckpointInfo,
  FinalReview,
  PauseReason,
  Rating,
  RunDamage,
  RunModels,
  StoredRunSource,
  RunStatus,
  RunSummary,
  RunWorkspace,
  TaskRecord,
  TaskStatus,
  Usage,
} from '@orc/shared';
import * as z from 'zod';
import type { TaskChanges } from './document-task-list.js';

/**
 * What `runs/<id>/state.json` holds: the run actor's persisted snapshot plus the task records. It is a
 * projection that is rewritten now and then; `events.jsonl` is the journal that is appended (and synced)
 * as things happen, so the document may lag the journal and is caught up from it on restore.
 */
/** The cap (`max_task_cost_usd`) a task needs to be retried, as given the first time at its spend. */
export const RetryCap = z.object({
  /** What the task had cost: once it spends more, the figure is worked out again. */
  spentUsd: z.number().nonnegative(),
  capUsd: z.number().positive(),
  /** The run's cap it was given under: a task whose figure is over it stopped at it. */
  underUsd: z.number().nonnegative(),
});
export type RetryCap = z.infer<typeof RetryCap>;

export const RunDocument = z.object({
  version: z.literal(1),
  id: z.string(),
  goal: z.string(),
  status: RunStatus,
  pauseReason: PauseReason.optional(),
  /** A quota pause's reset (ISO time): the run goes on by itself then, after a restart too. */
  resumeAt: z.string().optional(),
  /** A quota pause: the model whose quota it waits for. */
  quotaModel: z.string().optional(),
  models: RunModels,
  /** The resolved config the run was started with (never holds the API key). */
  config: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Time the run did no work, and when its pause began (shared `trackIdle`). */
  idleMs: z.number().nonnegative().optional(),
  idleSince: z.string().optional(),
  planSummary: z.string().optional(),
  tasks: z.array(TaskRecord),
  /** Tasks were given rather than planned: the manager does not re-plan them. */
  importedTasks: z.boolean(),
  /** Imported tasks that are not to be run, with the reason (deferred or blocked at the source). */
  heldTasks: z.record(z.string(), z.string()).optional(),
  /** Where imported tasks came from (Task Master). */
  source: StoredRunSource.optional(),
  /** Workers edit this repository (claude-code): each attempt in a worktree, accepted work merged. */
  workspace: RunWorkspace.optional(),
  usage: Usage,
  costUsd: z.number(),
  error: z.string().optional(),
  finalReview: FinalReview.optional(),
  /** XState's persisted snapshot of the run actor. */
  runSnapshot: z.unknown().optional(),
  /** The id of the last event reflected in this document. */
  lastEventId: z.number().int().nonnegative(),
  checkpoints: z.array(CheckpointInfo),
  tasksDoneSinceCheckpoint: z.number().int().nonnegative(),
  /** A person resumed the run after its budget paused it: it goes on past `max_cost_usd`. */
  budgetLifted: z.boolean().optional(),
  /**
   * The cap on a task's cost each task needs to be retried, as first given at its spend (RunBudget's
   * `neededCap`): the same figure after a restart, whatever the averages it came from do since.
   */
  retryCaps: z.record(z.string(), RetryCap).optional(),
  /** The run was rebuilt after a file of it was found damaged: which, why, and from what. */
  damage: RunDamage.optional(),
  /** People's ratings of the run and its tasks (`feedback.rated`), oldest first. */
  ratings: z.array(Rating).optional(),
  /**
   * Where the tasks the document names by their id alone are (SettledSegment): the store's own, set as
   * it writes the document and gone once it is read.
   */
  settled: z.object({ file: z.string(), bytes: z.number().int().nonnegative() }).optional(),
});
export type RunDocument = z.infer<typeof RunDocument>;

/**
 * A settled task as its run keeps it: the JSON of its record, which goes into the document as it is,
 * and what is read of it without parsing it. A settled task changes rarely (a retry, a late attempt's
 * cost), so a run keeps it as this text rather than as objects: at 100,000 tasks the records with their
 * attempts, and their text cached for the document beside them, held about 3 KB a task; the text alone
 * is about 600 bytes. A restore also brings waiting tasks back as their text, from the settled segment
 * (SettledSegment), until they are freed.
 */
export class TaskText {
  private deps: readonly string[] | undefined;

  private constructor(
    readonly id: string,
    readonly title: string,
    readonly status: TaskStatus,
    readonly json: string,
    /** Its attempts' costs: a restore counts them towards the budget's forecast without parsing the record. */
    readonly attemptCosts: readonly number[],
    dependencies: readonly string[] | undefined,
  ) {
    this.deps = dependencies;
  }

  static of(record: TaskRecord): TaskText {
    const json = READ_FROM.get(record) ?? JSON.stringify(record);
    const costs = record.attempts.map((attempt) => attempt.costUsd);
    return new TaskText(record.id, record.title, record.status, json, costs, record.dependencies);
  }

  /**
   * A task as the settled segment holds it (SettledSegment), its record still text. A line written before
   * its head carried the dependencies leaves them out: they are parsed when asked for.
   */
  static sealed(
    id: string,
    title: string,
    status: TaskStatus,
    json: string,
    attemptCosts: readonly number[],
    dependencies?: readonly string[],
  ): TaskText {
    return new TaskText(id, title, status, json, attemptCosts, dependencies);
  }

  /**
   * The tasks it waits for: what a restore builds the task graph from, read without parsing the record
   * (parsing 95,000 records for it took 0.3–0.5 s of a 100,000-task restart).
   */
  get dependencies(): readonly string[] {
    this.deps ??= this.record().dependencies;
    return this.deps;
  }

  /**
   * The text a loaded record was parsed from: `of` takes it rather than serialise the record again (a
   * record is never changed in place, so the text stays its own). A restore of 100,000 tasks otherwise
   * serialised the 50,000 settled ones again at its first save: 0.3 s of CPU before the run went on.
   */
  static readFrom(record: TaskRecord, json: string): void {
    READ_FROM.set(record, json);
  }

  /** The record, parsed afresh (about 5 µs): nothing holds on to it. */
  record(): TaskRecord {
    return JSON.parse(this.json) as TaskRecord;
  }

  /** Whatever serialises a document whole gets the record. */
  toJSON(): unknown {
    return this.record();
  }
}

const READ_FROM = new WeakMap<TaskRecord, string>();

/** A task as a document to write holds it: its record, or a settled task's text. */
export type DocumentTask = TaskRecord | TaskText;

/** A run document as the run hands it to the store to write: settled tasks may come as their text. */
export type RunDocumentToWrite = Omit<RunDocument, 'tasks'> & { tasks: readonly DocumentTask[] };

/**
 * A run document as a run hands it to the store to save (`scheduleSave`): its tasks all of them (an
 * array, or TaskChanges.whole), or those changed since the last save.
 */
export type RunDocumentToSave = Omit<RunDocument, 'tasks'> & { tasks: readonly DocumentTask[] | TaskChanges };

/**
 * A run document as the store reads it and a run is restored from: the tasks the settled segment holds
 * come as their text (TaskText), parsed only where something reads their record.
 */
export type KeptRunDocument = Omit<RunDocument, 'tasks'> & { tasks: DocumentTask[] };

/** The task's record, parsing a text. */
export function recordOfTask(task: DocumentTask): TaskRecord {
  return task instanceof TaskText ? task.record() : task;
}

/**
 * One line of `runs/index.json`: enough to list runs without opening each document. A finished run's
 * entry carries the rest of its summary, so the daemon neither loads it on start nor to list it.
 */
export const RunIndexEntry = z.object({
  id: z.string(),
  goal: z.string(),
  status: RunStatus,
  createdAt: z.string(),
  summary: RunSummary.omit({ id: true, goal: true, status: true, createdAt: true }).optional(),
  /** Where the run writes its tasks' progress back: such a run is restored on start to catch up. */
  source: StoredRunSource.optional(),
});
export type RunIndexEntry = z.infer<typeof RunIndexEntry>;

/**
 * What loading checks: every field of the document, but only the shape of each task record that the
 * engine relies on. A full parse of 10,000 task records with their attempts took about a second, most of
 * the time a restart takes; the records were validated when they were written.
 */
export const StoredRunDocument = RunDocument.extend({
  tasks: z.array(
    z.looseObject({
      id: z.string(),
      title: z.string(),
      status: TaskStatus,
      dependencies: z.array(z.string()),
      attempts: z.array(z.looseObject({ n: z.number(), outcome: z.string() })),
    }),
  ),
});

export function parseStoredRunDocument(raw: unknown) {
  const parsed = StoredRunDocument.safeParse(raw);
  return parsed.success ? { success: true as const, data: parsed.data as RunDocument } : parsed;
}

/** What `run.created` records of the document, so the journal alone can rebuild the run. */
export function runSetupOf(doc: RunDocument): RunSetup {
  return {
    config: doc.config,
    importedTasks: doc.importedTasks,
    ...(doc.heldTasks !== undefined && Object.keys(doc.heldTasks).length > 0 && { heldTasks: doc.heldTasks }),
    ...(doc.source !== undefined && { source: doc.source }),
    ...(doc.workspace !== undefined && { workspace: doc.workspace }),
  };
}
