import type {
  CheckpointInfo,
  OrcEvent,
  RollbackResult,
  RollbackStrategy,
  RunSummary,
  RunView,
  TaskPage,
  TaskPageInput,
  TaskRecord,
} from '@orc/shared';

/**
 * What the attach screen needs from the daemon. The CLI implements it on the typed tRPC client
 * (`runs.get`, `runs.events`, …); tests and the demo implement it in memory. Actions resolve once the
 * daemon accepted them; their effect reaches the screen through the event stream.
 */
export interface RunSource {
  listRuns(): Promise<RunSummary[]>;
  /** The run's summary and, for a large run, only the first page of its tasks. */
  getRun(runId: string): Promise<RunView>;
  /** A page of the run's task table (`tasks.page`): the rows a screen of a large run shows. */
  pageTasks(runId: string, query: Omit<TaskPageInput, 'runId'>): Promise<TaskPage>;
  /** One task in full (the run view leaves results and outputs out). */
  getTask(runId: string, taskId: string): Promise<TaskRecord>;
  /**
   * Delivers every event of the run with id greater than `afterId`, in order, then live ones, until the
   * returned function is called. `onError` reports a stream that ended because the daemon went away or
   * refused; the screen then fetches the run again and follows anew.
   */
  follow(
    runId: string,
    afterId: number,
    onEvent: (event: OrcEvent) => void,
    onError: (error: unknown) => void,
  ): () => void;
  /**
   * Tells when the link to the daemon drops and when it is back, for a source whose client reconnects
   * by itself (its calls wait rather than fail meanwhile). Sources whose calls fail need not have it.
   */
  watchConnection?(onChange: (connected: boolean) => void): () => void;
  pause(runId: string): Promise<unknown>;
  resume(runId: string): Promise<unknown>;
  cancel(runId: string): Promise<unknown>;
  retry(runId: string, taskId: string): Promise<unknown>;
  skip(runId: string, taskId: string): Promise<unknown>;
  checkpoint(runId: string, label?: string): Promise<CheckpointInfo>;
  listCheckpoints(runId: string): Promise<CheckpointInfo[]>;
  rollback(
    runId: string,
    checkpointId: string,
    strategy: RollbackStrategy,
    tasks?: string[],
  ): Promise<RollbackResult>;
}
