import * as z from 'zod';
import { LIMITS, tooLongMessage, tooManyMessage } from './limits.js';
import { TaskSpec } from './task.js';

/**
 * What the manager answers when it plans a goal (structured output). Its JSON Schema goes to the model in
 * `output_config.format`, so every field carries a description the model can read.
 */
export const Plan = z.strictObject({
  summary: z.string().describe('One paragraph: how the work is split and why.'),
  tasks: z
    .array(
      z.strictObject({
        id: TaskSpec.shape.id.describe('Short unique id such as "t1".'),
        title: z
          .string()
          .min(1)
          .max(LIMITS.titleChars, tooLongMessage(LIMITS.titleChars))
          .describe('Imperative, under 80 characters.'),
        description: z
          .string()
          .max(LIMITS.descriptionChars, tooLongMessage(LIMITS.descriptionChars))
          .describe('What the worker must produce, self-contained.'),
        dependencies: z
          .array(z.string())
          .max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'dependencies'))
          .describe('Ids of tasks whose results this task needs.'),
        priority: TaskSpec.shape.priority.unwrap(),
      }),
    )
    .min(1)
    .max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'tasks'))
    .describe('Tasks in any order; dependencies must form no cycle.'),
});
export type Plan = z.infer<typeof Plan>;

/** The manager's closing review of a whole run (structured output). */
export const FinalReview = z.strictObject({
  verdict: z.enum(['success', 'partial', 'failure']),
  summary: z.string(),
  followUps: z.array(z.string()),
});
export type FinalReview = z.infer<typeof FinalReview>;
