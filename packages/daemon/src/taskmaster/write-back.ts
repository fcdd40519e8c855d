import { open, rename, stat, unlink } from 'node:fs/promises';
import { OrcError, TaskSpec } from '@orc/shared';
import type { TaskSpecInput } from '@orc/shared';
import { isoAt, systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { withFileLock } from './file-lock.js';
import type { FileLockOptions } from './file-lock.js';
import {
  formatOf,
  isJsonObject,
  normalizeId,
  readTaskMasterFile,
  serializeJson,
  taskListOf,
} from './taskmaster-file.js';
import type { JsonObject, TaskMasterStatus } from './taskmaster-file.js';

export interface TaskMasterWriteBackOptions {
  file: string;
  tag: string;
  /** Stamps the `<info added on …>` blocks and `updatedAt`. */
  clock?: Clock;
  /**
   * Lock timing, Task Master's own by default. The lock compares file mtimes, which are wall-clock time,
   * so it keeps the system clock unless given one here.
   */
  lock?: FileLockOptions;
  /**
   * Pause between two of our writes in a row. Task Master retries a held lock only 5 times over about 3 s,
   * so a burst of back-to-back writes from us must leave it gaps to get in.
   */
  gapMs?: number;
}

interface Change<T> {
  changed: boolean;
  result: T;
}

let tempSeq = 0;

/** How a run ended for one task, as the file should show it. */
export interface TaskOutcome {
  id: string;
  status: 'done' | 'failed';
  /** The worker's summary, or why the task did not finish. */
  note: string;
}

const FAILED_PREFIX = 'claude-orchestrator could not finish this task: ';

/**
 * Writes run progress back into a Task Master tasks.json where Task Master and its users see it. Every call
 * takes Task Master's lock, re-reads the file, changes one task or subtask, writes a temp file and renames
 * it over, and releases the lock, so edits other processes made meanwhile survive. Calls are queued and run
 * one at a time in call order. Only `status`, `details` and an existing `updatedAt` are touched; other
 * tags, unknown fields, id types and the file's formatting stay as they were.
 */
export class TaskMasterWriteBack {
  readonly file: string;
  readonly tag: string;
  private readonly clock: Clock;
  private readonly lockOptions: FileLockOptions;
  private readonly gapMs: number;
  private lastReleaseAt = Number.NEGATIVE_INFINITY;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(options: TaskMasterWriteBackOptions) {
    this.file = options.file;
    this.tag = options.tag;
    this.clock = options.clock ?? systemClock;
    this.lockOptions = options.lock ?? {};
    this.gapMs = options.gapMs ?? 10;
  }

  /** `in-progress`, as `task-master set-status` would write it when work starts. */
  markStarted(id: string): Promise<void> {
    return this.enqueue((list, at) => {
      const entry = findEntry(list, id, this.where);
      return { changed: touched(entry, at, setStatus(entry, 'in-progress')), result: undefined };
    });
  }

  /** `done`, with the worker's summary appended to `details` the way `task-master update-subtask` appends. */
  markDone(id: string, summary: string): Promise<void> {
    return this.enqueue((list, at) => {
      const entry = findEntry(list, id, this.where);
      const changed = [setStatus(entry, 'done'), appendInfo(entry, summary, at)].includes(true);
      return { changed: touched(entry, at, changed), result: undefined };
    });
  }

  /** Back to `pending`, so Task Master (or a later run) picks it up again, with the failure appended. */
  markFailed(id: string, reason: string): Promise<void> {
    return this.enqueue((list, at) => {
      const entry = findEntry(list, id, this.where);
      const changed = [
        setStatus(entry, 'pending'),
        appendInfo(entry, `${FAILED_PREFIX}${reason}`, at),
      ].includes(true);
      return { changed: touched(entry, at, changed), result: undefined };
    });
  }

  /**
   * Catches the file up with what a run finished while its write-backs were lost (the daemon died between
   * a result and its write): a task still `in-progress` here that the run finished becomes `done` with its
   * summary, or goes back to `pending` with the reason it failed. Only `in-progress` tasks change, so a
   * status a person set since is kept. One locked write; tasks no longer in the file are passed over.
   * Resolves with the ids it changed.
   */
  reconcile(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    return this.enqueue((list, at) => {
      const changed: string[] = [];
      for (const outcome of outcomes) {
        let entry: JsonObject;
        try {
          entry = findEntry(list, outcome.id, this.where);
        } catch {
          continue;
        }
        if (entry.status !== 'in-progress') continue;
        const done = outcome.status === 'done';
        setStatus(entry, done ? 'done' : 'pending');
        appendInfo(entry, done ? outcome.note : `${FAILED_PREFIX}${outcome.note}`, at);
        touched(entry, at, true);
        changed.push(outcome.id);
      }
      return { changed: changed.length > 0, result: changed };
    });
  }

  /**
   * Adds follow-up work as a new `pending` top-level task with id max + 1 in the tag (the spec's own id is
   * not used) and resolves with that id. Dependencies must name tasks (`"7"`) or subtasks (`"7.2"`) in the tag.
   */
  addTask(input: TaskSpecInput): Promise<string> {
    const parsed = TaskSpec.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return Promise.reject(
        new OrcError(
          'PLAN_INVALID',
          `follow-up task "${input.title}" cannot be added to Task Master: ${issue.path.join('.')} ${issue.message}`,
        ),
      );
    }
    const spec = parsed.data;
    return this.enqueue((list) => {
      const ids = list
        .map((task) => (isJsonObject(task) ? idOf(task.id) : undefined))
        .filter((id) => id !== undefined);
      const next = Math.max(0, ...ids.map(Number)) + 1;
      // Follow the file's own id type: some projects store "7", most store 7.
      const stringIds = isJsonObject(list[0]) && typeof list[0].id === 'string';
      const dependencies = spec.dependencies.map((dep) => {
        findEntry(list, dep, this.where, `follow-up task "${spec.title}" depends on ${dep}`);
        return dep.includes('.') || stringIds ? dep : Number(dep);
      });
      list.push({
        id: stringIds ? String(next) : next,
        title: spec.title,
        description: spec.description,
        details: spec.details ?? '',
        testStrategy: '',
        priority: spec.priority,
        dependencies,
        status: 'pending',
        subtasks: [],
      });
      return { changed: true, result: String(next) };
    });
  }

  /** Resolves once every call made so far has been written (or has failed). */
  async idle(): Promise<void> {
    await this.tail;
  }

  private get where(): string {
    return `Task Master file ${this.file}, tag "${this.tag}"`;
  }

  private enqueue<T>(change: (list: unknown[], at: string) => Change<T>): Promise<T> {
    const op = () => this.apply(change);
    const run = this.tail.then(op, op);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async apply<T>(change: (list: unknown[], at: string) => Change<T>): Promise<T> {
    const wallClock = this.lockOptions.clock ?? systemClock;
    const wait = this.lastReleaseAt + this.gapMs - wallClock.now();
    if (wait > 0) await wallClock.sleep(wait);
    try {
      return await this.applyLocked(change);
    } finally {
      this.lastReleaseAt = wallClock.now();
    }
  }

  private applyLocked<T>(change: (list: unknown[], at: string) => Change<T>): Promise<T> {
    return withFileLock(
      this.file,
      async () => {
        // Re-read inside the lock: another process may have written since we last looked.
        const doc = await readTaskMasterFile(this.file);
        const list = taskListOf(doc.data, doc.layout, this.tag);
        if (!list) {
          throw new OrcError(
            'TASK_FILE_INVALID',
            `${this.where}: the tag is no longer in the file; nothing was written`,
          );
        }
        const { changed, result } = change(list, isoAt(this.clock));
        if (changed) await replaceFile(this.file, serializeJson(doc.data, formatOf(doc.text)));
        return result;
      },
      this.lockOptions,
    );
  }
}

function idOf(id: unknown): string | undefined {
  if (typeof id === 'number' && Number.isInteger(id)) return String(id);
  if (typeof id === 'string' && /^\s*\d+\s*$/.test(id)) return normalizeId(id);
  return undefined;
}

/** The live object for `"7"` or `"7.2"` inside the tag's task list. */
function findEntry(list: readonly unknown[], id: string, where: string, context?: string): JsonObject {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(id);
  const missing = (what: string) =>
    new OrcError(
      'TASK_NOT_FOUND',
      `${where}: ${context ?? `cannot update task ${id}`}: ${what}; nothing was written`,
    );
  if (!match) throw missing(`"${id}" is not a Task Master id (7 or 7.2)`);
  const [, taskId, subId] = match;
  const task = list.find((t): t is JsonObject => isJsonObject(t) && idOf(t.id) === normalizeId(taskId!));
  if (!task) throw missing(`there is no task ${normalizeId(taskId!)}`);
  if (subId === undefined) return task;
  const subtasks = Array.isArray(task.subtasks) ? task.subtasks : [];
  const sub = subtasks.find((s): s is JsonObject => isJsonObject(s) && idOf(s.id) === normalizeId(subId));
  if (!sub) throw missing(`task ${normalizeId(taskId!)} has no subtask ${normalizeId(subId)}`);
  return sub;
}

function setStatus(entry: JsonObject, status: TaskMasterStatus): boolean {
  if (entry.status === status) return false;
  entry.status = status;
  return true;
}

/** Newer Task Master files stamp changes; keep such a stamp true, but add none where there was none. */
function touched(entry: JsonObject, at: string, changed: boolean): boolean {
  if (changed && typeof entry.updatedAt === 'string') entry.updatedAt = at;
  return changed;
}

/** Task Master's update-subtask format: a timestamped block on a new line after the existing details. */
function appendInfo(entry: JsonObject, text: string, at: string): boolean {
  const body = text.trim();
  if (!body) return false;
  const block = `<info added on ${at}>\n${body}\n</info added on ${at}>`;
  const existing = typeof entry.details === 'string' ? entry.details : '';
  entry.details = (existing ? `${existing}\n` : '') + block;
  return true;
}

/** Temp file next to the target, fsynced, renamed over it; the target keeps its permissions. */
async function replaceFile(file: string, text: string): Promise<void> {
  const mode = (await stat(file)).mode & 0o7777;
  const temp = `${file}.orc-${process.pid}-${++tempSeq}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.chmod(mode); // open() applied the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new OrcError('STORE_ERROR', `cannot write Task Master file ${file}: ${(error as Error).message}`);
  }
}
