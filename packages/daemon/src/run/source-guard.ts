import type { SourceChange } from '@orc/shared';

/** What a run's task source answers before a task starts. */
export type StartVerdict =
  | { kind: 'start' }
  /** A person changed the task at the source: it is not started, and the change is shown on it. */
  | { kind: 'changed'; change: SourceChange }
  /** The source cannot be read (a broken file, a lock never released): the run waits for a person. */
  | { kind: 'unavailable'; reason: string };

/**
 * The place a run's tasks come from and people track them in (a Task Master project), asked before each
 * task starts. It never rejects: a failure to ask is `unavailable`. Write-backs happen on the run's
 * events; a change they find is reported through `Run.sourceChanged`.
 */
export interface SourceGuard {
  beforeStart(taskId: string): Promise<StartVerdict>;
  /**
   * The highest top-level task number the source holds, tasks the run left out (done ones) included, as
   * last read: a task a person adds through orc is numbered above it.
   */
  highestId?(): number;
}
