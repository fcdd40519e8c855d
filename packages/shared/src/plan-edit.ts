import * as z from 'zod';
import { LIMITS, tooLongMessage, tooManyMessage } from './limits.js';
import { RunSummary } from './run.js';
import { Priority, TaskId, TaskSpec } from './task.js';

/**
 * A person's edits of a running plan (`orc task add|edit|rm|cancel`, `runs.addTasks`, `runs.updateTask`,
 * `runs.removeTask`, `tasks.cancel`). Each is checked against the run before anything changes, applied
 * in one turn of the daemon and journalled, so a restore replays it and every client sees it.
 */

const RunId = z.string().min(1, 'a run id is required').max(LIMITS.idChars, tooLongMessage(LIMITS.idChars));
const LookupId = z.string().min(1).max(LIMITS.idChars, tooLongMessage(LIMITS.idChars));

/** A task a person adds: as a planned task, its id chosen by the run when none is given. */
export const NewTask = TaskSpec.extend({ id: TaskId.optional() });
export type NewTask = z.input<typeof NewTask>;

export const AddTasksInput = z.strictObject({
  runId: RunId,
  tasks: z.array(NewTask).min(1).max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'tasks')),
});
export type AddTasksInput = z.input<typeof AddTasksInput>;

/** What a person may change of a task: its spec, not what the run did with it. */
export const TaskChanges = z
  .strictObject({
    title: TaskSpec.shape.title.optional(),
    description: z.string().max(LIMITS.descriptionChars, tooLongMessage(LIMITS.descriptionChars)).optional(),
    dependencies: z.array(TaskId).max(LIMITS.tasks, tooManyMessage(LIMITS.tasks, 'dependencies')).optional(),
    priority: Priority.optional(),
  })
  .refine((changes) => Object.values(changes).some((value) => value !== undefined), {
    message: 'nothing to change: give a title, description, dependencies or priority',
  });
export type TaskChanges = z.infer<typeof TaskChanges>;

export const UpdateTaskInput = z.strictObject({ runId: RunId, taskId: LookupId, changes: TaskChanges });
export type UpdateTaskInput = z.input<typeof UpdateTaskInput>;

/**
 * What becomes of the tasks that wait for a removed one: `refuse` (the default) changes nothing and names
 * them, `cascade` removes them too, `keep` keeps them without that dependency (they may start at once).
 */
export const RemoveDependents = z.enum(['refuse', 'cascade', 'keep']);
export type RemoveDependents = z.infer<typeof RemoveDependents>;

export const RemoveTaskInput = z.strictObject({
  runId: RunId,
  taskId: LookupId,
  dependents: RemoveDependents.default('refuse'),
});
export type RemoveTaskInput = z.input<typeof RemoveTaskInput>;

/** Who changed the plan: a person through orc, or a person at the run's source (Task Master's file). */
export const PlanEditOrigin = z.enum(['person', 'source']);
export type PlanEditOrigin = z.infer<typeof PlanEditOrigin>;

/** What an edit did: the tasks it added, changed or removed (a cascade names every one). */
export const PlanEditResult = z.object({
  run: RunSummary,
  added: z.array(z.string()),
  changed: z.array(z.string()),
  removed: z.array(z.string()),
});
export type PlanEditResult = z.infer<typeof PlanEditResult>;

/** A person's changes to a task in a few words, for event lines: `title, deps a, b, priority high`. */
export function describeTaskChanges(changes: TaskChanges): string {
  const parts: string[] = [];
  if (changes.title !== undefined) parts.push(`title "${changes.title}"`);
  if (changes.description !== undefined) parts.push('description');
  if (changes.dependencies !== undefined)
    parts.push(changes.dependencies.length === 0 ? 'no deps' : `deps ${changes.dependencies.join(', ')}`);
  if (changes.priority !== undefined) parts.push(`priority ${changes.priority}`);
  return parts.join(', ');
}

/** Who made a plan edit, as an event line says it. */
export function editedBy(origin: PlanEditOrigin): string {
  return origin === 'source' ? 'at its source' : 'by a person';
}
