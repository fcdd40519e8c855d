import type { Rating } from '@orc/shared';
import { isoAt } from '../clock.js';
import type { Run } from './run.js';

/**
 * A person rates the run's work, or one task's: journalled (`feedback.rated`) and kept with the run, so the
 * report shows it beside the manager's verdicts. Any run can be rated, finished ones most of all; an
 * unknown task is TASK_NOT_FOUND and changes nothing. Resolves once the rating is durable, so a report
 * asked for next has it.
 */
export async function rateRun(
  run: Run,
  input: { taskId?: string; score: number; comment?: string },
): Promise<Rating> {
  if (input.taskId !== undefined) run.taskRecord(input.taskId);
  const rating: Rating = {
    ...(input.taskId !== undefined && { taskId: input.taskId }),
    score: input.score,
    ...(input.comment !== undefined && { comment: input.comment }),
    at: isoAt(run.deps.clock),
  };
  run.emit({ type: 'feedback.rated', rating });
  run.doc.ratings = [...(run.doc.ratings ?? []), rating];
  run.save();
  await run.journal.drain();
  return rating;
}
