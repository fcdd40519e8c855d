import type {
  CheckpointInfo,
  ConfigInput,
  OrcEvent,
  RollbackStrategy,
  RunSummary,
  RunView,
  StartRunInput,
  TaskRecord,
} from '@orc/shared';

/**
 * The engine as one object: everything the daemon's procedures do, in process. A client never sees
 * this directly; the daemon serves it over tRPC.
 */
export interface Orchestrator {
  startRun(input: StartRunInput): Promise<RunSummary>;
  /** Every run, finished ones from the index (no run is loaded to list it). */
  listRuns(): RunSummary[];
  /**
   * Rejects with OrcError RUN_NOT_FOUND for an unknown id (likewise every method taking a run id). A
   * finished run is loaded from disk for the call; a damaged run is shown, and refused anything else.
   * Without `full`, tasks come without their results and attempt outputs (see `getTask`).
   */
  getRun(runId: string, options?: { full?: boolean }): Promise<RunView>;
  /** One task with everything: its result, every attempt with its output or error, the reviews. */
  getTask(runId: string, taskId: string): Promise<TaskRecord>;
  pauseRun(runId: string): Promise<RunSummary>;
  /** `maxCostUsd` gives the run a new budget to go on within. */
  resumeRun(runId: string, options?: { maxCostUsd?: number }): Promise<RunSummary>;
  cancelRun(runId: string): Promise<RunSummary>;
  retryTask(runId: string, taskId: string): Promise<RunSummary>;
  skipTask(runId: string, taskId: string): Promise<RunSummary>;
  createCheckpoint(runId: string, label?: string): Promise<CheckpointInfo>;
  listCheckpoints(runId: string): Promise<CheckpointInfo[]>;
  rollback(
    runId: string,
    checkpointId: string,
    strategy: RollbackStrategy,
    tasks?: string[],
  ): Promise<RunSummary>;
  /**
   * Every event of the run with id greater than `afterId`, replayed from the journal and then live,
   * without gap or duplicate; ends when the signal aborts. An unknown run throws at the call, not on
   * iteration, so a subscription can refuse it before streaming.
   */
  events(runId: string, afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent>;
  /** Resolves when the run is completed, failed or cancelled, or paused waiting for a person. */
  waitForRun(runId: string, signal?: AbortSignal): Promise<RunSummary>;
  /** The daemon's base config (no secrets). */
  baseConfig(): ConfigInput;
  /** Stops dispatch, lets in-flight calls finish within `graceMs` then aborts them, persists everything. */
  close(graceMs?: number): Promise<void>;
}
