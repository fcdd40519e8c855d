import * as z from 'zod';
import { TaskId } from './task.js';

/** A person's score for a run or one of its tasks, 1 (useless) to 5 (just right). */
export const RatingScore = z
  .number()
  .int('a rating is a whole number from 1 to 5')
  .min(1, 'a rating is from 1 to 5')
  .max(5, 'a rating is from 1 to 5');

/** A person's rating of a run's work (of one task when `taskId` is set), kept in the run's journal. */
export const Rating = z.object({
  taskId: TaskId.optional(),
  score: RatingScore,
  comment: z.string().optional(),
  at: z.string(),
});
export type Rating = z.infer<typeof Rating>;
