import * as z from 'zod';

/**
 * Where a run's tasks came from, when that place is also where people track them (a Task Master project),
 * and what a person changed there while the run went on.
 */

/** The source a run reads its tasks from and writes their progress back to. */
export const RunSource = z.object({
  kind: z.literal('taskmaster'),
  file: z.string(),
  tag: z.string(),
  /**
   * Whether progress is written back into the file. A run on the simulated model does not write unless
   * asked (`--write-simulated`): a simulated "done" is not work done.
   */
  writeBack: z.boolean(),
});
export type RunSource = z.infer<typeof RunSource>;

/** The source as a run's document keeps it: with each task's status there as read at import. */
export const StoredRunSource = RunSource.extend({
  /** Progress is written back there; absent in runs from before it could be off, which wrote. */
  writeBack: z.boolean().optional(),
  /** Each task's status there as read at import: a change a person makes is told from it. */
  imported: z.record(z.string(), z.string()).optional(),
  /** Tasks of the tag that `--only` left out: not the run's, and no additions when it is restored either. */
  excluded: z.array(z.string()).optional(),
});
export type StoredRunSource = z.infer<typeof StoredRunSource>;

/**
 * A task whose status at its source is no longer what the run read there at import or last wrote: a
 * person changed it. A person's edit wins: a task not yet started is not started, and a result is not
 * written over the change.
 */
export const SourceChange = z.object({
  /** The status at the source now, or `removed` when the task is no longer there. */
  status: z.string(),
  /** What the run read there at import or last wrote. */
  expected: z.string(),
  /** What the run did about it. */
  action: z.enum(['not-started', 'not-written']),
  at: z.string(),
});
export type SourceChange = z.infer<typeof SourceChange>;

/** One line for people: `set to cancelled in Task Master (was pending): not started`. */
export function describeSourceChange(change: SourceChange): string {
  const what =
    change.status === 'removed' ? 'removed from Task Master' : `set to ${change.status} in Task Master`;
  const did =
    change.action === 'not-started' ? 'not started' : 'its result was not written back over the change';
  return `${what} (was ${change.expected}): ${did}`;
}
