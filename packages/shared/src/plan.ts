import * as z from 'zod';
import { LIMITS, tooLongMessage, tooManyMessage } from './limits.js';
import { TaskSpec } from './task.js';
import { Touches } from './touches.js';

/**
 * The model must answer `touches` (structured output wants every field required), `[]` when it cannot
 * tell; a plan written before the field existed reads as `[]`. Typed optional all the same: plans made
 * in code (an import, the simulated model, a test's script) may leave it out, and `withoutEmptyTouches`
 * drops the `[]` again so records carry only what a task names.
 */
const plannedTouches = z.preprocess(
  (value) => value ?? [],
  Touches.describe(
    'Repository paths or globs this task will create or edit, e.g. ["src/ui/list.ts", "src/ui/**"]; tasks whose paths overlap are not run at the same time. [] when unknown.',
  ),
) as unknown as z.ZodOptional<typeof Touches>;

/** The task without `touches` when it names none. */
export function withoutEmptyTouches<T extends { touches?: readonly string[] | undefined }>(task: T): T {
  if (task.touches === undefined || task.touches.length > 0) return task;
  const { touches: _none, ...rest } = task;
  return rest as T;
}

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
        touches: plannedTouches,
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
