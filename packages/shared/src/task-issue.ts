import { nearName } from './near-name.js';
import { TaskSpec } from './task.js';

/** A zod issue as `taskSpecIssue` reads it. */
export interface TaskIssue {
  code: string;
  path: readonly PropertyKey[];
  message: string;
  keys?: readonly string[];
}

/**
 * A task that is not a valid `TaskSpec`, in words, for a tasks file (`orc run`) and a run the daemon is
 * asked to start alike: the task by its id (or its place in the list), the field and the value it holds,
 * never a schema path (`tasks.3.dependencies.0`). `index` is the task's place in the list; `issue.path`
 * starts inside the task.
 */
export function taskSpecIssue(item: unknown, index: number, issue: TaskIssue): string {
  return missingField(item, index, issue.path) ?? issueText(item, index, issue);
}

/**
 * A task's mistake in words: the task by its id, the field and the value it holds (`task t1: touches
 * "../x": touched paths may not contain ".."`), and for an unknown field the one it likely meant.
 */
function issueText(item: unknown, index: number, issue: TaskIssue): string {
  const task = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
  const [field, ...rest] = issue.path.map(String);
  // A task is named by its id, unless the id is what is wrong.
  const id = field !== 'id' && typeof task['id'] === 'string' && task['id'] !== '' ? task['id'] : undefined;
  const name = id !== undefined ? `task ${id}` : `task ${index + 1} (tasks[${index}])`;
  if (issue.code === 'unrecognized_keys') {
    const [key = ''] = issue.keys ?? [];
    const near = issue.path.length === 0 ? nearName(key, Object.keys(TaskSpec.shape)) : undefined;
    const unknown = [...issue.path.map(String), key].join('.');
    return `${name}: unknown field "${unknown}"; ${near === undefined ? 'check its spelling' : `did you mean "${near}"?`}`;
  }
  const message = issue.message.replace(/^Invalid input: /, '');
  if (field === undefined) return `${name}: ${message}`;
  // A value is named as written ("touches "../x"", "id "x y""), not by its place in the list, when short.
  const value =
    rest.length === 0
      ? task[field]
      : rest.length === 1 && /^\d+$/.test(rest[0]!) && Array.isArray(task[field])
        ? (task[field] as unknown[])[Number(rest[0])]
        : undefined;
  const shown = typeof value === 'object' || value === undefined ? undefined : JSON.stringify(value);
  if (shown !== undefined && shown.length <= 60) return `${name}: ${field} ${shown}: ${message}`;
  // The field by its name, not its place: `dependencies`, not `dependencies.0`.
  return `${name}: ${[field, ...rest.filter((part) => !/^\d+$/.test(part))].join('.')} ${message}`;
}

/**
 * A task without the id or title every task needs, said with the task and the fix: the schema's own
 * words ("tasks[0].title expected string, received undefined") named neither.
 */
function missingField(item: unknown, index: number, path: readonly PropertyKey[]): string | undefined {
  if (path.length !== 1 || (path[0] !== 'title' && path[0] !== 'id')) return undefined;
  const task = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
  const given = task[path[0]];
  if (given !== undefined && (typeof given !== 'string' || given.trim() !== '')) return undefined;
  const id = typeof task['id'] === 'string' && task['id'] !== '' ? task['id'] : undefined;
  const name = id !== undefined ? `task ${id}` : `task ${index + 1} (tasks[${index}])`;
  return path[0] === 'title'
    ? `${name} has no title; give it "title": a line that says what it does`
    : `${name} has no id; give it "id": a name of letters, digits, ".", "_" or "-" other tasks' "dependencies" can use`;
}
