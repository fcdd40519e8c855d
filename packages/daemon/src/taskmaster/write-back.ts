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

export interface Change<T> {
  changed: boolean;
  result: T;
}

/** One queued call: its change to the task list, and how to answer it. */
interface Pending {
  change: (list: unknown[], at: string) => Change<unknown>;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

let tempSeq = 0;

/** A task's status in the file as read under the lock, or `removed` when it is no longer there. */
export type FoundStatus = TaskMasterStatus | 'removed' | (string & {});

/** What a guarded call found, and whether it wrote. */
export interface Guarded {
  ok: boolean;
  found: FoundStatus;
}

/**
 * A task as it was in the file just before the run claimed it. Task Master's commands read the file before
 * they take its lock and write their whole tag after, so one that ran across our claim puts exactly this
 * back: the status and the `updatedAt` (or none) it had. A person's `task-master set-status` stamps a new
 * `updatedAt` (0.43 does, on every task it changes), so the two are told apart. A hand edit that puts the
 * old status back and leaves the stamp is taken for a stale write.
 */
export interface Unclaimed {
  status: FoundStatus;
  updatedAt?: string;
}

/** A claim's answer: what it found and, when it wrote, how to know a stale write undid it. */
export interface Claim extends Guarded {
  unclaimed?: Unclaimed;
}

/**
 * The status a guarded write expects, and optionally the task as it was before the run claimed it: that
 * too is the run's to write over, as a stale Task Master write put it back.
 */
export interface Expected {
  status: FoundStatus;
  unclaimed?: Unclaimed | undefined;
}

/** How a run ended for one task, as the file should show it. */
export interface TaskOutcome {
  id: string;
  status: 'done' | 'failed';
  /** The worker's summary, or why the task did not finish. */
  note: string;
  /** The task before the run claimed it, when known: found so again, a stale write undid the claim. */
  unclaimed?: Unclaimed | undefined;
}

const FAILED_PREFIX = 'claude-orchestrator could not finish this task: ';

/**
 * Writes run progress back into a Task Master tasks.json where Task Master and its users see it. Calls are
 * queued and applied in call order: the calls waiting together take Task Master's lock once, re-read the
 * file, change their tasks, write a temp file and rename it over, and release the lock, so edits other
 * processes made meanwhile survive. Only `status`, `details` and an existing `updatedAt` are touched; other
 * tags, unknown fields, id types and the file's formatting stay as they were.
 *
 * The guarded calls (`claim`, and `markDone` / `markFailed` given the status they expect) let a person's
 * edit win: they write only when the task's status, read under the lock, is the one the run expects.
 */
export class TaskMasterWriteBack {
  readonly file: string;
  readonly tag: string;
  private readonly clock: Clock;
  private readonly lockOptions: FileLockOptions;
  private readonly gapMs: number;
  private lastReleaseAt = Number.NEGATIVE_INFINITY;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;

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

  /**
   * Before a task starts: reads its status under the lock and, when `accepts` it, marks it `in-progress`
   * (only reads when `write` is false). A status it does not accept, or a task no longer in the file, is
   * left as it is: `ok` is false and `found` says what is there.
   */
  claim(id: string, accepts: (found: FoundStatus) => boolean, write = true): Promise<Claim> {
    return this.enqueue<Claim>((list, at) => {
      const entry = tryFindEntry(list, id);
      const found = statusOf(entry);
      if (!entry || !accepts(found)) return { changed: false, result: { ok: false, found } };
      if (!write) return { changed: false, result: { ok: true, found } };
      const unclaimed = unclaimedOf(entry);
      const changed = touched(entry, at, setStatus(entry, 'in-progress'));
      return { changed, result: { ok: true, found, ...(changed && { unclaimed }) } };
    });
  }

  /**
   * Marks `in-progress` again the tasks a stale Task Master write put back to how they were before the run
   * claimed them, while the run still works them; a status a person set since is kept. Resolves with the
   * ids it changed.
   */
  reclaim(claims: readonly { id: string; unclaimed: Unclaimed }[]): Promise<string[]> {
    return this.enqueue((list, at) => {
      const changed: string[] = [];
      for (const { id, unclaimed } of claims) {
        const entry = tryFindEntry(list, id);
        if (!entry || !isUnclaimed(entry, unclaimed)) continue;
        touched(entry, at, setStatus(entry, 'in-progress'));
        changed.push(id);
      }
      return { changed: changed.length > 0, result: changed };
    });
  }

  /**
   * `done`, with the worker's summary appended to `details` the way `task-master update-subtask` appends.
   * Given `expected`, writes only while the task's status is that (else `ok` is false and nothing changes).
   */
  markDone(id: string, summary: string, expected?: FoundStatus | Expected): Promise<Guarded> {
    return this.guarded(id, expected, (entry, at) =>
      [setStatus(entry, 'done'), appendInfo(entry, summary, at)].includes(true),
    );
  }

  /** Back to `pending`, so Task Master (or a later run) picks it up again, with the failure appended. */
  markFailed(id: string, reason: string, expected?: FoundStatus | Expected): Promise<Guarded> {
    return this.guarded(id, expected, (entry, at) =>
      [setStatus(entry, 'pending'), appendInfo(entry, `${FAILED_PREFIX}${reason}`, at)].includes(true),
    );
  }

  private guarded(
    id: string,
    expected: FoundStatus | Expected | undefined,
    edit: (entry: JsonObject, at: string) => boolean,
  ): Promise<Guarded> {
    const want = typeof expected === 'string' ? { status: expected } : expected;
    return this.enqueue<Guarded>((list, at) => {
      const entry = want === undefined ? findEntry(list, id, this.where) : tryFindEntry(list, id);
      const found = statusOf(entry);
      const ours =
        want === undefined ||
        found === want.status ||
        (entry !== undefined && want.unclaimed !== undefined && isUnclaimed(entry, want.unclaimed));
      if (!entry || !ours) return { changed: false, result: { ok: false, found } };
      return { changed: touched(entry, at, edit(entry, at)), result: { ok: true, found } };
    });
  }

  /**
   * Catches the file up with what a run finished while its write-backs were lost (the daemon died between
   * a result and its write): a task still `in-progress` here that the run finished becomes `done` with its
   * summary, or goes back to `pending` with the reason it failed. Only `in-progress` tasks change (and
   * those put back as they were before the run claimed them), so a status a person set since is kept. One
   * locked write; tasks no longer in the file are passed over. Resolves with the ids it changed.
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
        const undone =
          entry.status === 'in-progress' ||
          (outcome.unclaimed !== undefined && isUnclaimed(entry, outcome.unclaimed));
        if (!undone) continue;
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

  /** Any change to the tag's task list, in turn with the others, under the lock (a person's plan edits). */
  change<T>(edit: (list: unknown[], at: string) => Change<T>): Promise<T> {
    return this.enqueue(edit);
  }

  /** Resolves once every call made so far has been written (or has failed). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private get where(): string {
    return `Task Master file ${this.file}, tag "${this.tag}"`;
  }

  private enqueue<T>(change: (list: unknown[], at: string) => Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ change, resolve: resolve as (result: unknown) => void, reject });
      this.flushing ??= this.flush();
    });
  }

  /**
   * Applies what is queued, the calls waiting together in one locked write. A run that finishes eight
   * tasks at once takes the lock once instead of eight times, which leaves Task Master (5 tries over
   * about 3 s) more room to get in.
   */
  private async flush(): Promise<void> {
    const wallClock = this.lockOptions.clock ?? systemClock;
    while (this.pending.length > 0) {
      const wait = this.lastReleaseAt + this.gapMs - wallClock.now();
      // Calls made in the same turn of the event loop (a burst of results) go together.
      if (wait > 0) await wallClock.sleep(wait);
      else await new Promise((resolve) => setImmediate(resolve));
      const batch = this.pending.splice(0);
      try {
        await this.applyLocked(batch);
      } catch (error) {
        for (const call of batch) call.reject(error);
      } finally {
        this.lastReleaseAt = wallClock.now();
      }
    }
    this.flushing = undefined;
  }

  /** One locked read-change-write for a batch; a call that throws is refused alone. */
  private async applyLocked(batch: readonly Pending[]): Promise<void> {
    // Answered once the lock is released, so a caller that goes on finds the file free.
    const answers = await withFileLock(
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
        const at = isoAt(this.clock);
        const answers: (() => void)[] = [];
        let changed = false;
        for (const call of batch) {
          try {
            const outcome = call.change(list, at);
            changed ||= outcome.changed;
            answers.push(() => call.resolve(outcome.result));
          } catch (error) {
            answers.push(() => call.reject(error));
          }
        }
        if (changed) await replaceFile(this.file, serializeJson(doc.data, formatOf(doc.text)));
        return answers;
      },
      this.lockOptions,
    );
    for (const answer of answers) answer();
  }
}

export function idOf(id: unknown): string | undefined {
  if (typeof id === 'number' && Number.isInteger(id)) return String(id);
  if (typeof id === 'string' && /^\s*\d+\s*$/.test(id)) return normalizeId(id);
  return undefined;
}

/** The live object for `"7"` or `"7.2"`, or undefined when the file no longer has it. */
export function tryFindEntry(list: readonly unknown[], id: string): JsonObject | undefined {
  try {
    return findEntry(list, id, '');
  } catch {
    return undefined;
  }
}

function unclaimedOf(entry: JsonObject): Unclaimed {
  const stamp = entry.updatedAt;
  return { status: statusOf(entry), ...(typeof stamp === 'string' && { updatedAt: stamp }) };
}

/** The task is as it was before the run claimed it: a stale write put it back. */
export function isUnclaimed(entry: JsonObject, unclaimed: Unclaimed): boolean {
  const now = unclaimedOf(entry);
  return now.status === unclaimed.status && now.updatedAt === unclaimed.updatedAt;
}

/** Task Master takes a missing status as `pending`. */
function statusOf(entry: JsonObject | undefined): FoundStatus {
  if (!entry) return 'removed';
  return typeof entry.status === 'string' ? entry.status : 'pending';
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
export function touched(entry: JsonObject, at: string, changed: boolean): boolean {
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
