import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { OrcEvent, SourceChange, TaskRecord, TaskSpec } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, systemClock, type Clock } from '../clock.js';
import type { SourceGuard, StartVerdict } from '../run/source-guard.js';
import { loadTaskMasterProject } from './import-tasks.js';
import { addToList, editInList, removeFromList } from './plan-in-file.js';
import { readTaskMasterFile, taskListOf } from './taskmaster-file.js';
import {
  isUnclaimed,
  TaskMasterWriteBack,
  tryFindEntry,
  type FoundStatus,
  type TaskOutcome,
  type Unclaimed,
} from './write-back.js';

/**
 * How often the file is looked at for tasks a person added (ms). A stat every second costs nothing; the
 * file is read only when its mtime moved, and Task Master replaces it whole (a rename), which fs.watch on
 * the file itself stops seeing after the first time.
 */
const WATCH_INTERVAL_MS = 1000;

/** How much of a worker's result goes into Task Master's `details`. */
const SUMMARY_LIMIT = 2000;

/** A task the run lets go of before it is done goes back to `pending` in the file, with why. */
const LET_GO: Partial<Record<string, string>> = {
  cancelled: 'the run was cancelled',
  skipped: 'it was skipped in the run',
};

export interface TaskMasterSourceOptions {
  file: string;
  tag: string;
  /** Write progress into the file; false on the simulated model unless asked (then it is only read). */
  writeBack: boolean;
  /** Each task's status as read at import. */
  imported: Readonly<Record<string, string>>;
  /** Tasks of the tag `--only` left out at import. */
  excluded?: readonly string[];
  logger: Logger;
  clock?: Clock;
}

/**
 * A Task Master project as the source of a run's tasks, where a person's edits win:
 * - before a task starts, its status is read under Task Master's lock; when it is what the run read at
 *   import or last wrote, it is marked `in-progress` and starts, else it is not started (`changed`);
 * - a task held for a person (deferred, blocked, review, or changed since) starts only once its status
 *   is `pending` again;
 * - a result is written back (`done` with the worker's summary, or back to `pending` with the reason it
 *   failed or the run was cancelled) only while the file still says `in-progress`; otherwise the change
 *   is reported and the file keeps the person's status.
 * Writes are queued in order and a failed one is logged: the run's own records stay the truth.
 */
export class TaskMasterSource implements SourceGuard {
  private readonly writeBack: TaskMasterWriteBack;
  private readonly writes: boolean;
  private readonly logger: Logger;
  private readonly clock: Clock;
  /** The statuses the file may show for each task without a person having changed it. */
  private readonly expected = new Map<string, readonly FoundStatus[]>();
  /** Tasks a person holds: they start only once the file says `pending` again. */
  private readonly held = new Set<string>();
  /** Marked `in-progress` by the run and not finished: cancelled or skipped, they go back to `pending`. */
  private readonly claimed = new Set<string>();
  /** Being claimed right now, with why the run let go of it meanwhile, if it did. */
  private readonly claiming = new Map<string, string | undefined>();
  private readonly imported: Readonly<Record<string, string>>;
  private readonly excluded: readonly string[];
  /** Results whose write failed (the file could not be read or locked): written with the next write. */
  private readonly unwritten = new Map<string, { status: 'done' | 'pending'; note: string }>();
  /** Tasks the run wrote back as done, to write again if a stale write of Task Master's undid it. */
  private readonly written = new Map<string, TaskOutcome>();
  /** Each claimed task as it was before the claim: a stale Task Master write that undid the claim puts it back. */
  private readonly unclaimed = new Map<string, Unclaimed>();
  /**
   * Each task's last answer (`task.worked`), until it is done or let go: its result, which a
   * `task.completed` does not tell again.
   */
  private readonly answers = new Map<string, { attempt: number; output: string }>();
  private changed: (taskId: string, change: SourceChange) => void = () => undefined;
  private stopListening: (() => void) | undefined;
  private stopWatching: (() => void) | undefined;
  /**
   * Tasks added through orc whose number the file had already (a person's task added meanwhile): the
   * file's task is not the run's, so the run's edits and removals of it are not written there.
   */
  private readonly notInFile = new Set<string>();
  /** The highest top-level task number in the file when last read (done and left-out tasks included). */
  private highest = 0;
  /** Nothing is answered before `follow` has said where the run stands. */
  private readonly followed: Promise<void>;
  private markFollowed!: () => void;

  constructor(options: TaskMasterSourceOptions) {
    this.writeBack = new TaskMasterWriteBack({ file: options.file, tag: options.tag });
    this.writes = options.writeBack;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.imported = options.imported;
    this.excluded = options.excluded ?? [];
    for (const [id, status] of Object.entries(options.imported)) this.expected.set(id, [status]);
    this.followed = new Promise((resolve) => (this.markFollowed = resolve));
  }

  get file(): string {
    return this.writeBack.file;
  }

  highestId(): number {
    return this.highest;
  }

  async beforeStart(taskId: string): Promise<StartVerdict> {
    this.claiming.set(taskId, undefined);
    await this.followed;
    this.writeUnwritten();
    const held = this.held.has(taskId);
    const expected = this.expected.get(taskId) ?? ['pending'];
    const accepts = (found: FoundStatus) => (held ? found === 'pending' : expected.includes(found));
    let claim;
    let letGo: string | undefined;
    try {
      claim = await this.writeBack.claim(taskId, accepts, this.writes);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { kind: 'unavailable', reason: `${reason}; fix it, then resume the run` };
    } finally {
      letGo = this.claiming.get(taskId);
      this.claiming.delete(taskId);
    }
    if (claim.ok) {
      this.held.delete(taskId);
      this.written.delete(taskId);
      if (claim.unclaimed) this.unclaimed.set(taskId, claim.unclaimed);
      else this.unclaimed.delete(taskId);
      if (this.writes) {
        this.expected.set(taskId, ['in-progress']);
        this.claimed.add(taskId);
        // Cancelled or skipped while the claim was being written: it goes back at once.
        if (letGo !== undefined) this.finish(taskId, 'pending', letGo);
      } else this.expected.set(taskId, [claim.found]);
      return { kind: 'start' };
    }
    this.held.add(taskId);
    this.expected.set(taskId, [claim.found]);
    const change = this.change(claim.found, held ? 'pending' : expected[0]!, 'not-started');
    return { kind: 'changed', change };
  }

  /**
   * Writes the run's progress as its events come (nothing when the source is only read), and reports a
   * result not written over a person's change through `changed`. A restored run passes its tasks (as
   * restored, the journal caught up): the file is first caught up with results the restart kept from it.
   */
  follow(
    subscribe: (listener: (event: OrcEvent) => void) => () => void,
    changed: (taskId: string, change: SourceChange) => void,
    restored?: readonly TaskRecord[],
  ): void {
    this.changed = changed;
    const outcomes: TaskOutcome[] = [];
    for (const task of restored ?? []) this.restore(task, this.imported[task.id] ?? 'pending', outcomes);
    this.markFollowed();
    if (!this.writes) return;
    this.catchUp(outcomes);
    this.stopListening = subscribe((event) => {
      switch (event.type) {
        case 'task.worked':
          this.answers.set(event.taskId, { attempt: event.attempt, output: event.output });
          break;
        case 'task.completed': {
          const answer = this.answers.get(event.taskId);
          this.answers.delete(event.taskId);
          const result = event.result ?? (answer?.attempt === event.attempt ? answer.output : '');
          this.finish(event.taskId, 'done', summaryOf(result));
          break;
        }
        case 'task.failed':
          this.answers.delete(event.taskId);
          this.finish(event.taskId, 'pending', event.error);
          break;
        case 'task.status': {
          const why = LET_GO[event.status];
          if (why === undefined) break;
          this.answers.delete(event.taskId);
          // A task a person cancelled in the run says so; a cancelled run's tasks say the run was.
          const letGo = event.status === 'cancelled' && event.reason !== undefined ? event.reason : why;
          if (this.claimed.has(event.taskId)) this.finish(event.taskId, 'pending', letGo);
          else if (this.claiming.has(event.taskId)) this.claiming.set(event.taskId, letGo);
          break;
        }
        // A person's edits through orc are the file's too; edits that came from the file are there already.
        case 'plan.tasks_added':
          for (const task of event.tasks)
            this.highest = Math.max(this.highest, Number.parseInt(task.id, 10) || 0);
          if (event.origin === 'person')
            this.writePlanEdit('add tasks', (list) => {
              const added = addToList(list, event.tasks);
              for (const task of event.tasks)
                if (!added.result.includes(task.id)) this.notInFile.add(task.id);
              return added;
            });
          break;
        case 'task.edited':
          if (event.origin === 'person')
            this.writePlanEdit(`edit task ${event.taskId}`, (list, at) =>
              this.notInFile.has(event.taskId)
                ? { changed: false, result: false }
                : editInList(list, event.taskId, event.changes, at),
            );
          break;
        case 'plan.tasks_removed':
          if (event.origin === 'person')
            this.writePlanEdit('remove tasks', (list) =>
              removeFromList(
                list,
                event.taskIds.filter((id) => !this.notInFile.has(id)),
              ),
            );
          break;
        default:
          break;
      }
    });
  }

  stop(): void {
    this.stopListening?.();
    this.stopWatching?.();
  }

  /**
   * Tasks a person adds to the file while the run goes on (`task-master add-task`): each time the file
   * changes, the tag is read as at import, and the runnable tasks that were not there when the watch
   * began (tasks left out by --only and done ones set back to pending are not additions) and the run does
   * not have (`known`) are handed to `added`. A restored run's watch begins where its import did, so the
   * tasks a person added while the daemon was down are taken in at once. Tasks the run let go of
   * (removed) stay out unless a person adds them again under a new id.
   */
  watchForAdditions(
    subscribe: (listener: (event: OrcEvent) => void) => () => void,
    known: (id: string) => boolean,
    added: (specs: TaskSpec[]) => void,
    restored = false,
  ): void {
    const removed = new Set<string>();
    const unsubscribe = subscribe((event) => {
      if (event.type === 'plan.tasks_removed') event.taskIds.forEach((id) => removed.add(id));
    });
    /**
     * Every id of the tag when the run began to watch it (left-out and done ones too): not additions. A
     * restored run's is its import's: what the file has beyond it, and the run does not, was added (a
     * run from before imports were kept has none, and begins at the file as it is).
     */
    const imported = Object.keys(this.imported);
    let baseline = restored && imported.length > 0 ? new Set([...imported, ...this.excluded]) : undefined;
    const readOnce = async () => {
      const project = await loadTaskMasterProject(this.file, { tag: this.writeBack.tag, env: {} });
      const ids = [
        ...project.specs.map((spec) => spec.id),
        ...project.notRunnable.map((task) => task.id),
        ...project.skipped,
        ...project.excluded,
      ];
      for (const id of ids) this.highest = Math.max(this.highest, Number.parseInt(id, 10) || 0);
      if (baseline === undefined) {
        baseline = new Set(ids);
        return;
      }
      const fresh = project.specs.filter(
        (spec) => !known(spec.id) && !baseline!.has(spec.id) && !removed.has(spec.id),
      );
      if (fresh.length > 0) added(fresh);
    };
    // One read at a time, in order: the first one is the baseline.
    let reading = Promise.resolve();
    const read = () => {
      reading = reading
        .then(readOnce)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, file: this.file }, 'could not read Task Master for added tasks'),
        );
    };
    const look = (now: Stats, before: Stats) => {
      if (now.mtimeMs === before.mtimeMs) return;
      read();
      // A person's command may have written a whole tag it read before our last write.
      reading = reading.then(() => this.putBackUndone());
    };
    // Read once now: the tasks the run found there, and the numbers the file uses.
    read();
    watchFile(this.file, { interval: WATCH_INTERVAL_MS, persistent: false }, look);
    this.stopWatching = () => {
      unwatchFile(this.file, look);
      unsubscribe();
    };
  }

  private writePlanEdit(what: string, edit: Parameters<TaskMasterWriteBack['change']>[0]): void {
    this.writeBack
      .change(edit)
      .catch((error: unknown) =>
        this.logger.warn({ err: error, file: this.file }, `could not ${what} in Task Master`),
      );
  }

  /** Resolves once every write asked for so far has landed (or failed); a failed one is tried once more. */
  async idle(): Promise<void> {
    await this.writeBack.idle();
    this.writeUnwritten();
    await this.writeBack.idle();
    await this.rewriteUndone();
  }

  /**
   * Task Master's commands read tasks.json before they take its lock and write it whole after, so one that
   * ran across our write of a task's end puts back our claim (`in-progress`), or the task as it was before
   * the claim: seen with the real CLI, two people editing during a run. Where the file shows either for a
   * task we finished, the end is written again, as the restart catch-up does; any other status there is a
   * person's and is kept.
   */
  private async rewriteUndone(): Promise<void> {
    if (this.written.size === 0) return;
    try {
      const changed = await this.writeBack.reconcile([...this.written.values()]);
      if (changed.length > 0)
        this.logger.info(
          { tasks: changed, file: this.file },
          'wrote again what a stale Task Master write undid',
        );
    } catch (error) {
      this.logger.warn({ err: error, file: this.file }, 'could not check Task Master for undone write-backs');
    }
  }

  /**
   * After the file changed: where a stale write undid what the run wrote (a claim of a task it still works,
   * or a task's end), it is written again now rather than when the run ends. The file is read without the
   * lock first, so a change that undid nothing costs no lock.
   */
  private async putBackUndone(): Promise<void> {
    if (!this.writes || (this.written.size === 0 && this.claimed.size === 0)) return;
    try {
      const doc = await readTaskMasterFile(this.file);
      const list = taskListOf(doc.data, doc.layout, this.writeBack.tag) ?? [];
      const undone = (id: string, orStatus?: FoundStatus) => {
        const entry = tryFindEntry(list, id);
        const before = this.unclaimed.get(id);
        if (!entry) return false;
        return entry.status === orStatus || (before !== undefined && isUnclaimed(entry, before));
      };
      const reclaims = [...this.claimed]
        .filter((id) => undone(id))
        .map((id) => ({ id, unclaimed: this.unclaimed.get(id)! }));
      if (reclaims.length > 0) {
        const changed = await this.writeBack.reclaim(reclaims);
        if (changed.length > 0)
          this.logger.info(
            { tasks: changed, file: this.file },
            'claimed again what a stale Task Master write undid',
          );
      }
      if ([...this.written.keys()].some((id) => undone(id, 'in-progress'))) await this.rewriteUndone();
    } catch (error) {
      this.logger.warn({ err: error, file: this.file }, 'could not check Task Master for undone write-backs');
    }
  }

  private writeUnwritten(): void {
    const unwritten = [...this.unwritten];
    this.unwritten.clear();
    for (const [taskId, { status, note }] of unwritten) this.finish(taskId, status, note);
  }

  private finish(taskId: string, status: 'done' | 'pending', note: string): void {
    this.claimed.delete(taskId);
    // Still the run's: our claim, or the task put back as it was before it by a stale Task Master write.
    const unclaimed = this.unclaimed.get(taskId);
    const expected = { status: 'in-progress', unclaimed };
    const write =
      status === 'done'
        ? this.writeBack.markDone(taskId, note, expected)
        : this.writeBack.markFailed(taskId, note, expected);
    write.then(
      (result) => {
        if (result.ok) {
          this.expected.set(taskId, [status]);
          if (status === 'done') this.written.set(taskId, { id: taskId, status, note, unclaimed });
          return;
        }
        this.expected.set(taskId, [result.found]);
        this.changed(taskId, this.change(result.found, 'in-progress', 'not-written'));
      },
      (error: unknown) => {
        this.unwritten.set(taskId, { status, note });
        this.logger.warn(
          { err: error, taskId, file: this.file },
          `could not write ${status === 'done' ? 'done' : 'the failure'} back to Task Master; it is tried again with the next write`,
        );
      },
    );
  }

  private change(status: FoundStatus, expected: string, action: SourceChange['action']): SourceChange {
    return { status, expected, action, at: isoAt(this.clock) };
  }

  /** What the file should say for a task of a run restored after a restart. */
  private restore(task: TaskRecord, imported: string, outcomes: TaskOutcome[]): void {
    const set = (...statuses: FoundStatus[]) => this.expected.set(task.id, statuses);
    if (task.sourceChange) {
      set(task.sourceChange.status);
      // Skipped (done, cancelled or removed there) or held: either way it waits for the file to say pending.
      if (task.sourceChange.action === 'not-started') this.held.add(task.id);
      return;
    }
    if (task.held !== undefined && task.status === 'blocked') {
      this.held.add(task.id);
      return;
    }
    if (!this.writes) return;
    const begun = task.attempts.length > 0;
    if (task.status === 'done') {
      set('done');
      outcomes.push({ id: task.id, status: 'done', note: summaryOf(task.result ?? '') });
    } else if (task.status === 'failed' || (task.status === 'cancelled' && begun)) {
      set('pending');
      const note = task.status === 'failed' ? (task.error ?? 'it failed') : 'the run was cancelled';
      outcomes.push({ id: task.id, status: 'failed', note });
    } else if (begun && task.status !== 'skipped') {
      set('in-progress');
      this.claimed.add(task.id);
      // Its answer, given before the restart, may yet be accepted: it is the result then.
      const last = task.attempts.at(-1);
      if (last?.output !== undefined) this.answers.set(task.id, { attempt: last.n, output: last.output });
    } else {
      // The run may have marked it in-progress and stopped before the task's start was journalled.
      set(imported, 'in-progress');
    }
  }

  /** Results the restart kept from the file: a task still `in-progress` there is finished now. */
  private catchUp(outcomes: TaskOutcome[]): void {
    if (outcomes.length === 0) return;
    this.writeBack.reconcile(outcomes).then(
      (changed) => {
        if (changed.length > 0)
          this.logger.info({ tasks: changed, file: this.file }, 'caught Task Master up after a restart');
      },
      (error: unknown) =>
        this.logger.warn({ err: error, file: this.file }, 'could not catch Task Master up after a restart'),
    );
  }
}

/** The worker's own "Summary:" paragraph when it wrote one, else the start of its result. */
export function summaryOf(result: string): string {
  const match = /^\s*\**summary\**:\s*([\s\S]+)$/im.exec(result);
  const text = (match?.[1] ?? result).trim();
  return text.length <= SUMMARY_LIMIT ? text : `${text.slice(0, SUMMARY_LIMIT)}…`;
}
