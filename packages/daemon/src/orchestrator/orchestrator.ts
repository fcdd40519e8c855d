import type { DaemonMetrics } from '../metrics/daemon-metrics.js';
import type {
  CheckpointInfo,
  ConfigInput,
  GoalPlan,
  InboxEvent,
  InboxItem,
  InboxList,
  NotificationChannelStatus,
  NewTask,
  OrcEvent,
  PlanEditResult,
  PlanGoalInput,
  QuotaStatus,
  Rating,
  RemoteWorkers,
  RollbackResult,
  RemoveDependents,
  RollbackStrategy,
  RunPreview,
  RunReport,
  RunsReport,
  RunSummary,
  RunView,
  StartRunInput,
  TaskChanges,
  TaskDiff,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '@orc/shared';
import type { EventBatchText } from '../run/event-batch-text.js';
import type { FollowOptions } from '../run/run-journal.js';

/**
 * The engine as one object: everything the daemon's procedures do, in process. A client never sees
 * this directly; the daemon serves it over tRPC.
 */
export interface Orchestrator {
  startRun(input: StartRunInput): Promise<RunSummary>;
  /** `orc plan`: the manager's plan for a goal, checked as a run's would be; nothing runs. */
  planGoal(input: PlanGoalInput): Promise<GoalPlan>;
  /** What `startRun` with this input would run, in what order, and what it would hold; starts nothing. */
  previewRun(input: StartRunInput): Promise<RunPreview>;
  /** Every run, finished ones from the index (no run is loaded to list it). */
  listRuns(): RunSummary[];
  /**
   * Every run, each journal read through first (`orc doctor`): a run whose history has a hole or a
   * damaged line says so in its `damage` from then on.
   */
  checkRuns(signal?: AbortSignal): Promise<RunSummary[]>;
  /**
   * Rejects with OrcError RUN_NOT_FOUND for an unknown id (likewise every method taking a run id). A
   * finished run is loaded from disk for the call; a damaged run is shown, and refused anything else.
   * Without `full`, tasks come without their results and attempt outputs (see `getTask`).
   */
  getRun(runId: string, options?: { full?: boolean }): Promise<RunView>;
  /**
   * A page of the run's task table: the tasks matching the query's statuses and search, in the run's
   * order, from its offset (see `TaskPageInput`).
   */
  pageTasks(runId: string, query: TaskQuery): Promise<TaskPage>;
  /** One task with everything: its result, every attempt with its output or error, the reviews. */
  getTask(runId: string, taskId: string): Promise<TaskRecord>;
  /** For a run whose workers edit a repository: what the task changed there; undefined otherwise. */
  taskDiff(runId: string, taskId: string): Promise<TaskDiff | undefined>;
  pauseRun(runId: string): Promise<RunSummary>;
  /** `maxCostUsd` gives the run a new budget to go on within. */
  resumeRun(runId: string, options?: { maxCostUsd?: number }): Promise<RunSummary>;
  cancelRun(runId: string): Promise<RunSummary>;
  /**
   * Deletes a finished run (completed, failed or cancelled): its files and index entry. A live run is
   * refused (INVALID_STATE): cancel it first. Branches a repository run made are left alone.
   */
  removeRun(runId: string): Promise<void>;
  /** `maxTaskCostUsd` raises the run's cap on a task's cost first (`orc retry --task-budget`). */
  retryTask(runId: string, taskId: string, options?: { maxTaskCostUsd?: number }): Promise<RunSummary>;
  /**
   * Every task stopped at the cost cap of a task runs again (`orc retry --all-capped`, run/retry-capped.ts):
   * the tasks run again, and the run after it.
   */
  retryCappedTasks(
    runId: string,
    options?: { maxTaskCostUsd?: number },
  ): Promise<{ taskIds: string[]; run: RunSummary }>;
  skipTask(runId: string, taskId: string): Promise<RunSummary>;
  /**
   * A person's edits of a running plan (run/plan-edits.ts): checked first (TASK_NOT_FOUND for an unknown
   * task or dependency, INVALID_STATE for a cycle, a task in flight or done, a removal with dependents and
   * no choice for them), then applied at once and journalled. A finished run given work executes again.
   */
  addTasks(runId: string, tasks: NewTask[]): Promise<PlanEditResult>;
  updateTask(runId: string, taskId: string, changes: TaskChanges): Promise<PlanEditResult>;
  removeTask(runId: string, taskId: string, dependents: RemoveDependents): Promise<PlanEditResult>;
  /** Stops the task's attempt and holds it until a person edits or retries it. */
  cancelTask(runId: string, taskId: string): Promise<PlanEditResult>;
  createCheckpoint(runId: string, label?: string): Promise<CheckpointInfo>;
  listCheckpoints(runId: string): Promise<CheckpointInfo[]>;
  rollback(
    runId: string,
    checkpointId: string,
    strategy: RollbackStrategy,
    tasks?: string[],
  ): Promise<RollbackResult>;
  /**
   * Every event of the run with id greater than `afterId`, replayed from the journal and then live,
   * without gap or duplicate; ends when the signal aborts. An unknown run throws at the call, not on
   * iteration, so a subscription can refuse it before streaming.
   */
  events(runId: string, afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent>;
  /**
   * The same events in batches: replayed ones up to a thousand a batch, then one batch per group commit
   * of the journal, the same text for every subscriber (the journal's own lines: see EventBatchText).
   * `resumed`: a client back after its connection closed, owed every event after `afterId` live.
   */
  eventBatches(
    runId: string,
    afterId: number,
    signal: AbortSignal,
    follow?: FollowOptions,
  ): AsyncIterable<EventBatchText>;
  /** A person rates the run, or one task of it (TASK_NOT_FOUND for a task it lacks); journalled. */
  addFeedback(runId: string, rating: { score: number; taskId?: string; comment?: string }): Promise<Rating>;
  /** The run's report, from its journal: outcome, reasons, spend, time, timeline, feedback. */
  runReport(runId: string): Promise<RunReport>;
  /** Every run created in the last `sinceMs`, summed up; damaged runs are named in it. */
  runsReport(sinceMs: number): Promise<RunsReport>;
  /** What waits for a person: the open items (closed ones too with `all`), and where to follow from. */
  listInbox(filter?: { runId?: string; all?: boolean }): InboxList;
  /**
   * A person's answer to an item, carried out and the item closed. Rejects with ITEM_NOT_FOUND for an
   * unknown or closed item, INVALID_CHOICE for a choice it does not offer, or the run's own refusal.
   */
  answerInbox(
    itemId: string,
    answer: { choice: string; note?: string; budgetUsd?: number },
  ): Promise<InboxItem>;
  /** Every inbox event after `afterId` the inbox still holds, then live ones, until the signal aborts. */
  inboxEvents(afterId: number, signal: AbortSignal): AsyncIterable<InboxEvent>;
  /** What became of the notifications pushed so far, per channel. */
  notificationStatus(): NotificationChannelStatus[];
  /** Resolves when the run is completed, failed or cancelled, or paused waiting for a person. */
  waitForRun(runId: string, signal?: AbortSignal): Promise<RunSummary>;
  /** The daemon's base config (no secrets). */
  baseConfig(): ConfigInput;
  /** Whether the daemon has an ANTHROPIC_API_KEY of its own (runs without one cannot use the API). */
  hasApiKey(): boolean;
  /**
   * The quotas the daemon paces, as their answers' headers describe them, and how far off its local
   * estimate of a call's input tokens has been (mean relative error over `estimatedCalls` calls).
   */
  quotaStatus(): { models: QuotaStatus[]; inputEstimateError: number; estimatedCalls: number };
  /** The Redis backend's queue and the `orc worker` processes on it; none with the local backend. */
  remoteWorkers(): Promise<RemoteWorkers | undefined>;
  /** The daemon's Prometheus metrics (a registry of this engine's own): `orc metrics`, the metrics port. */
  readonly metrics: DaemonMetrics;
  /** Stops dispatch, lets in-flight calls finish within `graceMs` then aborts them, persists everything. */
  close(graceMs?: number): Promise<void>;
}
