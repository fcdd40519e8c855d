import { assertValidTaskGraph, formatCount, isOrcError, LIMITS, OrcError, TaskSpec } from '@orc/shared';
import type { Priority } from '@orc/shared';
import type * as z from 'zod';
import {
  locateTaskMasterFile,
  normalizeId,
  readTaskMasterFile,
  resolveTag,
  tagsOf,
  taskListOf,
  TaskMasterSubtask,
  TaskMasterTask,
} from './taskmaster-file.js';
import type { TaskMasterLayout, TaskMasterStatus } from './taskmaster-file.js';

/** The statuses at which a task waits for a person: Task Master's own, or a task it waits on. */
export type HeldStatus = 'deferred' | 'blocked' | 'review';

export interface NotRunnableTask {
  id: string;
  title: string;
  status: HeldStatus;
  /** Why it is not run: its own status, its parent's, or the task it waits for. */
  reason: string;
  /** The held task it waits for, when that is why it is held (one of its dependencies). */
  waitsFor?: string;
}

export interface TaskMasterImport {
  file: string;
  tag: string;
  layout: TaskMasterLayout;
  /** Tasks to run, ids `"7"` and `"7.2"`; dependencies name other specs only. */
  specs: TaskSpec[];
  notRunnable: NotRunnableTask[];
  /** Ids of tasks already `done` or `cancelled` (with every subtask of such a task). */
  skipped: string[];
  /** Tasks of the tag left out by `only`. */
  excluded: string[];
  /** The status of every task and subtask in the run as read (`pending` where the file has none). */
  statuses: Record<string, TaskMasterStatus>;
}

export interface LoadTaskMasterOptions {
  tag?: string | undefined;
  /** Where `TASKMASTER_TAG` is read: the caller's environment, never the daemon's own. */
  env: Record<string, string | undefined>;
  /** Only these tasks (`3`, `5.2`) and what they need; an id not in the tag is an error. */
  only?: readonly string[] | undefined;
}

/** One task or subtask of the tag with its dependencies resolved to `"7"` / `"7.2"` ids. */
interface Entry {
  id: string;
  parent?: Entry;
  status: TaskMasterStatus;
  title: string;
  description: string;
  details: string | undefined;
  testStrategy: string | undefined;
  priority: Priority | undefined;
  /** `metadata.touches`: the paths or globs it will touch. */
  touches: string[] | undefined;
  /** Dependencies as written in the file, resolved. */
  dependencies: string[];
  subtasks: Entry[];
}

/**
 * Imports one tag of a Task Master project as run tasks. Rules:
 * - every task and subtask is a run task; a parent waits for its subtasks, and its subtasks wait for the
 *   parent's own dependencies (Task Master starts a task's subtasks only once the task's dependencies are done);
 * - `done` and `cancelled` are skipped (with all their subtasks) and dependencies on them are satisfied;
 * - `deferred` and `blocked` are not run (nor the subtasks of such a task), and neither is anything that
 *   waits on them, directly or through other tasks: those are listed as `blocked` with the reason, since
 *   the engine cannot wait for a task it does not run;
 * - `review` is held like them: the work is done and waits for a person to look at it;
 * - `pending` and `in-progress` are run (`in-progress` may be left over from a stopped session);
 * - with `only`, just the named tasks and what they need (their dependencies, a parent's subtasks, a
 *   subtask's parent's dependencies, all the way down) are taken; the rest of the tag is `excluded`;
 * - a subtask without a priority takes its parent's; a task without one is `medium`, as in Task Master.
 * Nothing is written. Errors are OrcError('TASK_FILE_INVALID') naming the file, the tag and the task.
 */
export async function loadTaskMasterProject(
  pathOrDir: string,
  options: LoadTaskMasterOptions,
): Promise<TaskMasterImport> {
  const file = locateTaskMasterFile(pathOrDir);
  const doc = await readTaskMasterFile(file);
  const { tag, source } = await resolveTag(file, options);
  const list = taskListOf(doc.data, doc.layout, tag);
  if (!list) {
    const from = source === 'default' ? '' : ` (from ${source === 'option' ? '--tag' : source})`;
    throw new OrcError(
      'TASK_FILE_INVALID',
      `Task Master file ${file} has no tag "${tag}"${from}; its tags are ${tagsOf(doc.data, doc.layout).join(', ')}: pass --tag with one of them`,
    );
  }
  const where = `Task Master file ${file}, tag "${tag}"`;
  const tasks = parseEntries(list, where);
  checkGraph(tasks, where);
  const all = [...allEntries(tasks)];
  const kept = options.only ? closureOf(all, options.only, where) : undefined;
  const entries = kept ? all.filter((entry) => kept.has(entry.id)) : all;
  const classified = classify(all, entries, where);
  if (classified.specs.length > LIMITS.tasks) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${where}: ${formatCount(classified.specs.length)} tasks to run, over the limit of ` +
        `${formatCount(LIMITS.tasks)} in one run; split them into tags and run one at a time`,
    );
  }
  return {
    file,
    tag,
    layout: doc.layout,
    ...classified,
    excluded: kept ? all.filter((entry) => !kept.has(entry.id)).map((entry) => entry.id) : [],
    statuses: Object.fromEntries(entries.map((entry) => [entry.id, entry.status])),
  };
}

/** The named tasks and everything they need, through dependencies and the parent/subtask links. */
function closureOf(all: readonly Entry[], only: readonly string[], where: string): Set<string> {
  const byId = new Map(all.map((entry) => [entry.id, entry]));
  const kept = new Set<string>();
  const stack: Entry[] = [];
  for (const raw of only) {
    const id = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? raw.trim().split('.').map(normalizeId).join('.') : raw;
    const entry = byId.get(id);
    if (!entry) {
      throw new OrcError(
        'TASK_FILE_INVALID',
        `--only names ${raw}, which is not a task or subtask in ${where}; task-master list --with-subtasks shows the ids`,
      );
    }
    stack.push(entry);
  }
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (kept.has(entry.id)) continue;
    kept.add(entry.id);
    for (const dep of effectiveDependencies(entry)) stack.push(byId.get(dep)!);
  }
  return kept;
}

function parseEntries(list: readonly unknown[], where: string): Entry[] {
  const tasks: Entry[] = [];
  list.forEach((raw, index) => {
    const task = parseOne(
      TaskMasterTask,
      raw,
      where,
      () => `task ${describeRaw(raw, `#${index + 1} in the list`)}`,
    );
    const entry = toEntry(task, undefined);
    (task.subtasks ?? []).forEach((rawSub, subIndex) => {
      const sub = parseOne(TaskMasterSubtask, rawSub, where, () => {
        return `subtask ${entry.id}.${describeRaw(rawSub, `#${subIndex + 1}`)}`;
      });
      entry.subtasks.push(toEntry(sub, entry));
    });
    tasks.push(entry);
  });
  return tasks;
}

function describeRaw(raw: unknown, fallback: string): string {
  const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return typeof id === 'number' || typeof id === 'string' ? String(id) : fallback;
}

function parseOne<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  where: string,
  name: () => string,
): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldName(issue.path);
  const value = issue.path.reduce<unknown>(
    (at, key) =>
      typeof at === 'object' && at !== null ? (at as Record<PropertyKey, unknown>)[key] : undefined,
    raw,
  );
  // The schema's own words ("Invalid input", "Too small: …") name no field: it goes first.
  const message = issue.message.replace(/^Invalid input: /, '');
  const said = field === '' || message.startsWith(field) ? message : `${field}: ${message}`;
  const got =
    value === undefined ? (field ? ` (${field} is missing)` : '') : ` (got ${JSON.stringify(value)})`;
  throw new OrcError('TASK_FILE_INVALID', `${where}: ${name()}: ${said}${got}; fix it in the file`);
}

/** A field by its name in the file, without the places in its lists: `metadata.touches`, not `metadata.touches.0`. */
function fieldName(path: readonly PropertyKey[]): string {
  return path
    .filter((key) => typeof key !== 'number')
    .map(String)
    .join('.');
}

function toEntry(task: TaskMasterTask | TaskMasterSubtask, parent: Entry | undefined): Entry {
  const own = normalizeId(task.id);
  const id = parent ? `${parent.id}.${own}` : own;
  return {
    id,
    ...(parent ? { parent } : {}),
    status: task.status ?? 'pending',
    title: task.title,
    description: task.description ?? '',
    details: task.details ?? undefined,
    testStrategy: task.testStrategy ?? undefined,
    priority: task.priority ?? undefined,
    touches: task.metadata?.touches ?? undefined,
    dependencies: (task.dependencies ?? []).map((dep) => resolveDependency(dep, id, parent)),
    subtasks: [],
  };
}

/** A task's `7` or `"7"` is task 7; a subtask's bare `2` is its sibling; `"7.2"` is subtask 2 of task 7 anywhere. */
function resolveDependency(dep: number | string, id: string, parent: Entry | undefined): string {
  const text = String(dep).trim();
  if (/^\d+$/.test(text)) return parent ? `${parent.id}.${normalizeId(text)}` : normalizeId(text);
  const dotted = /^(\d+)\.(\d+)$/.exec(text);
  if (dotted) return `${normalizeId(dotted[1]!)}.${normalizeId(dotted[2]!)}`;
  return `?${text}`; // reported as missing by checkGraph, with the text as written
}

function* allEntries(tasks: readonly Entry[]): Generator<Entry> {
  for (const task of tasks) {
    yield task;
    yield* task.subtasks;
  }
}

/** Dependencies as the engine sees them: a parent also waits for its subtasks, a subtask for its parent's dependencies. */
function effectiveDependencies(entry: Entry): string[] {
  const deps = entry.parent
    ? [...entry.dependencies, ...entry.parent.dependencies]
    : [...entry.dependencies, ...entry.subtasks.map((s) => s.id)];
  return [...new Set(deps)];
}

function checkGraph(tasks: readonly Entry[], where: string): void {
  const ids = new Set<string>();
  for (const entry of allEntries(tasks)) {
    if (ids.has(entry.id)) {
      throw new OrcError(
        'TASK_FILE_INVALID',
        `${where}: task ${entry.id} appears twice; give each task its own id`,
      );
    }
    ids.add(entry.id);
  }
  for (const entry of allEntries(tasks)) {
    for (const dep of entry.dependencies) {
      if (dep === entry.id) {
        throw new OrcError(
          'TASK_FILE_INVALID',
          `${where}: task ${entry.id} depends on itself; remove that dependency`,
        );
      }
      if (!ids.has(dep)) {
        const shown = dep.startsWith('?')
          ? `"${dep.slice(1)}", which is not a task id`
          : `${dep}, which does not exist`;
        throw new OrcError(
          'TASK_FILE_INVALID',
          `${where}: task ${entry.id} depends on ${shown}; fix or remove the dependency (task-master validate-dependencies)`,
        );
      }
    }
  }
  const nodes = [...allEntries(tasks)].map((entry) => ({
    id: entry.id,
    dependencies: effectiveDependencies(entry),
  }));
  try {
    assertValidTaskGraph(nodes, where, 'TASK_FILE_INVALID');
  } catch (error) {
    if (!isOrcError(error) || !error.message.includes('cycle')) throw error;
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${error.message} (a task waits for its subtasks, and subtasks wait for their parent's dependencies)`,
    );
  }
}

type Verdict =
  | { kind: 'skipped' }
  | { kind: 'run' }
  | { kind: 'not-run'; status: HeldStatus; reason: string; waitsFor?: string };

function ownVerdict(entry: Entry): Verdict | undefined {
  const settled = (status: TaskMasterStatus): Verdict | undefined => {
    switch (status) {
      case 'done':
      case 'cancelled':
        return { kind: 'skipped' };
      case 'deferred':
      case 'blocked':
        return { kind: 'not-run', status, reason: `${status} in Task Master` };
      case 'review':
        return { kind: 'not-run', status, reason: 'review in Task Master: waits for a person to look at it' };
      case 'pending':
      case 'in-progress':
        return undefined;
    }
  };
  if (entry.parent) {
    const parent = settled(entry.parent.status);
    if (parent?.kind === 'skipped') return parent;
    if (parent?.kind === 'not-run') {
      return {
        kind: 'not-run',
        status: parent.status,
        reason: `its task ${entry.parent.id} is ${parent.status}`,
      };
    }
  }
  return settled(entry.status);
}

/** Verdicts are worked out over the whole tag (`all`), and reported for `entries`. */
function classify(
  all: readonly Entry[],
  entries: readonly Entry[],
  where: string,
): Pick<TaskMasterImport, 'specs' | 'notRunnable' | 'skipped'> {
  const byId = new Map(all.map((e) => [e.id, e]));
  const verdicts = new Map<string, Verdict>();
  // Depth-first over a graph already checked acyclic; an explicit stack because chains can be long.
  const verdictOf = (root: Entry): Verdict => {
    const stack: Entry[] = [root];
    while (stack.length > 0) {
      const entry = stack[stack.length - 1]!;
      if (verdicts.has(entry.id)) {
        stack.pop();
        continue;
      }
      const own = ownVerdict(entry);
      if (own) {
        verdicts.set(entry.id, own);
        stack.pop();
        continue;
      }
      const pending = effectiveDependencies(entry)
        .map((id) => byId.get(id)!)
        .filter((dep) => !verdicts.has(dep.id));
      if (pending.length > 0) {
        stack.push(...pending);
        continue;
      }
      const waitsFor = effectiveDependencies(entry).find((id) => verdicts.get(id)!.kind === 'not-run');
      if (waitsFor === undefined) {
        verdicts.set(entry.id, { kind: 'run' });
      } else {
        const dep = verdicts.get(waitsFor) as Extract<Verdict, { kind: 'not-run' }>;
        verdicts.set(entry.id, {
          kind: 'not-run',
          status: 'blocked',
          reason: `waits for ${waitsFor}, which is ${dep.status}`,
          waitsFor,
        });
      }
      stack.pop();
    }
    return verdicts.get(root.id)!;
  };

  const specs: TaskSpec[] = [];
  const notRunnable: NotRunnableTask[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    const verdict = verdictOf(entry);
    switch (verdict.kind) {
      case 'skipped':
        skipped.push(entry.id);
        break;
      case 'not-run':
        notRunnable.push({
          id: entry.id,
          title: entry.title,
          status: verdict.status,
          reason: verdict.reason,
          ...(verdict.waitsFor !== undefined && { waitsFor: verdict.waitsFor }),
        });
        break;
      case 'run':
        specs.push(toSpec(entry, (id) => verdicts.get(id)!.kind === 'run', where));
        break;
    }
  }
  return { specs, notRunnable, skipped };
}

function toSpec(entry: Entry, runs: (id: string) => boolean, where: string): TaskSpec {
  const details = [
    entry.parent ? `Part of Task Master task ${entry.parent.id}: ${entry.parent.title.trim()}` : undefined,
    entry.details?.trim() ? entry.details : undefined,
    entry.testStrategy?.trim() ? `Test strategy: ${entry.testStrategy}` : undefined,
  ].filter((part) => part !== undefined);
  const parsed = TaskSpec.safeParse({
    id: entry.id,
    title: entry.title,
    description: entry.description,
    dependencies: effectiveDependencies(entry).filter(runs),
    priority: entry.priority ?? entry.parent?.priority ?? 'medium',
    ...(details.length > 0 ? { details: details.join('\n\n') } : {}),
    ...(entry.touches !== undefined && entry.touches.length > 0 && { touches: entry.touches }),
  });
  if (parsed.success) return parsed.data;
  // The file's own checks passed; what is left are our limits (a title over LIMITS.titleChars, …).
  const issue = parsed.error.issues[0]!;
  const touches = issue.path[0] === 'touches';
  const field = (touches ? 'metadata.' : '') + (fieldName(issue.path) || 'task');
  // A path is named as written (`metadata.touches "../x"`), not by its place in the list.
  const path = touches && typeof issue.path[1] === 'number' ? entry.touches?.[issue.path[1]] : undefined;
  const shown = path !== undefined && path.length <= 60 ? ` ${JSON.stringify(path)}` : '';
  throw new OrcError(
    'TASK_FILE_INVALID',
    `${where}: task ${entry.id}: ${field}${shown}: ${issue.message}; ${touches ? 'fix' : 'shorten'} it in the file`,
  );
}
