import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes, jsonSyntaxProblem, LIMITS, OrcError } from '@orc/shared';
import * as z from 'zod';

/**
 * Task Master's `tasks.json` (task-master-ai 0.43): where it lives, its two layouts, which tag is current,
 * and the shape of its tasks. Schemas are loose: fields we do not know are Task Master's or its users' and
 * are kept as they are.
 */

export const TASKMASTER_STATUSES = [
  'pending',
  'in-progress',
  'done',
  'review',
  'deferred',
  'cancelled',
  'blocked',
] as const;
export type TaskMasterStatus = (typeof TASKMASTER_STATUSES)[number];

export const TASKMASTER_PRIORITIES = ['high', 'medium', 'low', 'critical'] as const;

export const DEFAULT_TAG = 'master';
export const CURRENT_TASKS_PATH = path.join('.taskmaster', 'tasks', 'tasks.json');
export const LEGACY_TASKS_PATH = path.join('tasks', 'tasks.json');

const idField = (what: string) =>
  z.union([z.int().positive(), z.string().regex(/^\s*\d+\s*$/, `id must be ${what}`)], {
    error: `id must be ${what}`,
  });

// Said of the list and of an item in it alike: an error names the field, never its place (`dependencies.0`).
const DEPENDENCIES = 'dependencies must be a list of task ids (whole numbers or strings)';
const TOUCHES = 'metadata.touches must be a list of paths or globs';

const fields = {
  title: z.string({ error: 'title must be a string' }).trim().min(1, 'title must not be empty'),
  description: z.string({ error: 'description must be a string' }).nullish(),
  details: z.string({ error: 'details must be a string' }).nullish(),
  testStrategy: z.string({ error: 'testStrategy must be a string or null' }).nullish(),
  // Task Master writes `pending` when it creates a task; a missing status means the same to it.
  status: z
    .enum(TASKMASTER_STATUSES, { error: `status must be one of ${TASKMASTER_STATUSES.join(', ')}` })
    .optional(),
  priority: z
    .enum(TASKMASTER_PRIORITIES, { error: `priority must be one of ${TASKMASTER_PRIORITIES.join(', ')}` })
    .nullish(),
  dependencies: z
    .array(z.union([z.int().nonnegative(DEPENDENCIES), z.string()], { error: DEPENDENCIES }), {
      error: DEPENDENCIES,
    })
    .nullish(),
  // Task Master's place for other tools' data (0.43): orc reads the paths a task touches from it and
  // leaves the rest, and any other field, as it is.
  metadata: z
    .looseObject(
      {
        touches: z.array(z.string({ error: TOUCHES }), { error: TOUCHES }).nullish(),
      },
      { error: 'metadata must be an object' },
    )
    .nullish(),
};

export const TaskMasterSubtask = z.looseObject({
  id: idField('a positive integer'),
  ...fields,
});
export type TaskMasterSubtask = z.infer<typeof TaskMasterSubtask>;

export const TaskMasterTask = z.looseObject({
  id: idField('a positive integer or a numeric string'),
  ...fields,
  // Each subtask is checked on its own so an error can name it as `P.S`.
  subtasks: z.array(z.unknown(), { error: 'subtasks must be a list' }).nullish(),
});
export type TaskMasterTask = z.infer<typeof TaskMasterTask>;

export type TaskMasterLayout = 'tagged' | 'legacy';

/** Untyped JSON as read: write-back edits this in place so everything it does not touch stays as it was. */
export type JsonObject = Record<string, unknown>;

/** A parsed tasks.json with the text it came from (the write-back keeps the text's formatting). */
export interface TaskMasterDocument {
  file: string;
  text: string;
  data: JsonObject;
  layout: TaskMasterLayout;
}

/** Task Master's own id normalisation: `7`, `"7"` and `" 7 "` are one task. */
export function normalizeId(id: number | string): string {
  return String(Number.parseInt(String(id).trim(), 10));
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasTaskList(value: unknown): value is JsonObject & { tasks: unknown[] } {
  return isJsonObject(value) && Array.isArray(value.tasks);
}

/** Root `{ tasks: [...] }` is the legacy layout; Task Master checks for it the same way. */
export function layoutOf(data: unknown): TaskMasterLayout | undefined {
  if (hasTaskList(data)) return 'legacy';
  if (isJsonObject(data) && Object.values(data).some(hasTaskList)) return 'tagged';
  return undefined;
}

/** The tags a file holds, in file order; a legacy file holds `master` only. */
export function tagsOf(data: JsonObject, layout: TaskMasterLayout): string[] {
  if (layout === 'legacy') return [DEFAULT_TAG];
  return Object.entries(data)
    .filter(([, value]) => hasTaskList(value))
    .map(([key]) => key);
}

/** The `tasks` array of one tag, the live array inside `data`; undefined when the tag is not there. */
export function taskListOf(data: JsonObject, layout: TaskMasterLayout, tag: string): unknown[] | undefined {
  if (layout === 'legacy') return tag === DEFAULT_TAG ? (data.tasks as unknown[]) : undefined;
  const entry = Object.hasOwn(data, tag) ? data[tag] : undefined;
  return hasTaskList(entry) ? entry.tasks : undefined;
}

/** Reads and parses a tasks.json, or throws TASK_FILE_INVALID naming the file and the fix. */
export async function readTaskMasterFile(file: string): Promise<TaskMasterDocument> {
  let text: string;
  try {
    const bytes = (await stat(file)).size;
    if (bytes > LIMITS.taskFileBytes) {
      throw new OrcError(
        'TASK_FILE_INVALID',
        `Task Master file ${file} is ${formatBytes(bytes)}, over the limit of ` +
          `${formatBytes(LIMITS.taskFileBytes)} for a tasks file; split it into tags and run one at a time`,
      );
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof OrcError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new OrcError(
        'TASK_FILE_INVALID',
        `Task Master file ${file} does not exist; check the path or run \`task-master init\``,
      );
    }
    if (code === 'EISDIR') {
      throw new OrcError(
        'TASK_FILE_INVALID',
        `${file} is a directory; pass the project directory or its tasks.json`,
      );
    }
    throw new OrcError(
      'TASK_FILE_INVALID',
      `cannot read Task Master file ${file}: ${(error as Error).message}`,
    );
  }
  return parseTaskMasterText(file, text);
}

export function parseTaskMasterText(file: string, text: string): TaskMasterDocument {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `Task Master file ${file} is not valid JSON (${jsonSyntaxProblem(error, text)}); fix it or restore it from git`,
    );
  }
  const layout = layoutOf(data);
  if (!layout || !isJsonObject(data)) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `${file} is not a Task Master tasks file: expected { "<tag>": { "tasks": [...] } } or { "tasks": [...] }`,
    );
  }
  return { file, text, data, layout };
}

/**
 * The tasks file for a project directory or a file path: `.taskmaster/tasks/tasks.json`, then the legacy
 * `tasks/tasks.json` (only when it looks like Task Master's), or the given file when it looks like
 * Task Master's. Undefined when there is none, so `orc run <dir>` can fall back to other inputs.
 */
export function detectTaskMasterPath(pathOrDir: string): string | undefined {
  const target = path.resolve(pathOrDir);
  const stats = statSync(target, { throwIfNoEntry: false });
  if (!stats) return undefined;
  if (stats.isFile()) return looksLikeTaskMaster(target) ? target : undefined;
  if (!stats.isDirectory()) return undefined;
  // The current location is Task Master's alone: a broken file there should fail loudly on load, not be skipped.
  const current = path.join(target, CURRENT_TASKS_PATH);
  if (existsSync(current)) return current;
  const legacy = path.join(target, LEGACY_TASKS_PATH);
  return looksLikeTaskMaster(legacy) ? legacy : undefined;
}

function looksLikeTaskMaster(file: string): boolean {
  let data: unknown;
  try {
    // Too large to be run either way; the caller's own read says so with the limit.
    if (statSync(file).size > LIMITS.taskFileBytes) return false;
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  const layout = layoutOf(data);
  if (!layout || !isJsonObject(data)) return false;
  const lists = tagsOf(data, layout).map((tag) => taskListOf(data, layout, tag) ?? []);
  const first = lists.flat()[0];
  // An empty task list is still Task Master's shape; a first task must carry its id and title.
  return first === undefined || (isJsonObject(first) && 'id' in first && 'title' in first);
}

/**
 * The file to load for `pathOrDir`: a directory must hold one of Task Master's two locations; a file is
 * taken as given (reading it reports what is wrong with it).
 */
export function locateTaskMasterFile(pathOrDir: string): string {
  const target = path.resolve(pathOrDir);
  const stats = statSync(target, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) return target;
  for (const candidate of [CURRENT_TASKS_PATH, LEGACY_TASKS_PATH]) {
    const file = path.join(target, candidate);
    if (existsSync(file)) return file;
  }
  // `task-master init` (0.43) makes .taskmaster/ but no tasks.json: telling that user to init again is wrong.
  if (existsSync(path.join(target, '.taskmaster'))) {
    throw new OrcError(
      'TASK_FILE_INVALID',
      `the Task Master project in ${target} has no tasks yet (no ${CURRENT_TASKS_PATH}); make them with \`task-master parse-prd\`, or write that file`,
    );
  }
  throw new OrcError(
    'TASK_FILE_INVALID',
    `no Task Master tasks file in ${target} (looked for ${CURRENT_TASKS_PATH} and ${LEGACY_TASKS_PATH}); run \`task-master init\` there or pass the path of tasks.json`,
  );
}

/** The project directory a tasks file belongs to (where `.taskmaster/state.json` is). */
export function projectRootOf(file: string): string {
  const dir = path.dirname(file);
  if (file.endsWith(path.sep + CURRENT_TASKS_PATH)) return path.dirname(path.dirname(dir));
  if (file.endsWith(path.sep + LEGACY_TASKS_PATH)) return path.dirname(dir);
  return dir;
}

export interface ResolvedTag {
  tag: string;
  /** Where the tag came from, for error messages. */
  source: 'option' | 'TASKMASTER_TAG' | 'state.json' | 'default';
}

/** Task Master's order: `--tag`, then `TASKMASTER_TAG`, then `.taskmaster/state.json` `currentTag`, then `master`. */
export async function resolveTag(
  file: string,
  options: { tag?: string | undefined; env?: NodeJS.ProcessEnv | undefined },
): Promise<ResolvedTag> {
  if (options.tag?.trim()) return { tag: options.tag.trim(), source: 'option' };
  const fromEnv = (options.env ?? process.env).TASKMASTER_TAG?.trim();
  if (fromEnv) return { tag: fromEnv, source: 'TASKMASTER_TAG' };
  const stateFile = path.join(projectRootOf(file), '.taskmaster', 'state.json');
  let text: string | undefined;
  try {
    text = await readFile(stateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    let state: unknown;
    try {
      state = JSON.parse(text);
    } catch (error) {
      throw new OrcError(
        'TASK_FILE_INVALID',
        `${stateFile} is not valid JSON (${jsonSyntaxProblem(error, text)}); fix it or pass --tag`,
      );
    }
    const current = isJsonObject(state) ? state.currentTag : undefined;
    if (typeof current === 'string' && current.trim()) return { tag: current.trim(), source: 'state.json' };
  }
  return { tag: DEFAULT_TAG, source: 'default' };
}

/** How a file's text is laid out, so a rewrite differs from it only where the data changed. */
export interface JsonFormat {
  indent: string;
  eol: string;
  trailing: string;
}

export function formatOf(text: string): JsonFormat {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /^[{[]\r?\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  const trailing = /\s*$/.exec(text)?.[0] ?? '';
  return { indent, eol, trailing };
}

/** Task Master writes `JSON.stringify(data, null, 2)` with no trailing newline; other formats are kept as found. */
export function serializeJson(data: unknown, format: JsonFormat): string {
  let text = JSON.stringify(data, null, format.indent);
  if (format.eol !== '\n') text = text.replaceAll('\n', format.eol);
  return text + format.trailing;
}
