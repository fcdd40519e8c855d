import {
  IN_FLIGHT_STATUSES,
  parseTouches,
  touchesOf,
  type FileWait,
  type TaskRecord,
  type TaskStatus,
} from '@orc/shared';
import { awaitsReview } from '../actors/task.machine.js';
import { FileClaims } from './file-claims.js';
import { naturalRanks } from './natural-order.js';
import { ReadyQueue } from './ready-queue.js';

/**
 * What the scheduler knows of a run's tasks: who waits on whom, how many of each task's dependencies are
 * not yet done, the longest chain still ahead of each task, the counts by status, and the ready queue
 * (longest remaining critical path first, then priority, then natural id order). It is told of every
 * move and answers which dependents a move frees; it changes no task itself. A ready task whose touches
 * overlap a task's in flight waits for it off the queue (`FileClaims`) while the others go first.
 *
 * Tasks are numbered once per rebuild and everything per task is a typed array indexed by that number,
 * the dependents in one flat array: at 100,000 tasks four maps of ids and an array of dependents per
 * task held about 330 bytes a task and took 2.5 s to build on the 2-core machine.
 */
/**
 * What the graph is built from: a task's record, or what a restore reads of a task kept as its text
 * (TaskText: a settled or waiting task, never ready nor in flight).
 */
export interface GraphTask {
  readonly id: string;
  readonly status: TaskStatus;
  readonly dependencies: readonly string[];
}

export class TaskGraph {
  /** The status of a task as the run has it now. */
  constructor(private readonly statusOf: (id: string) => TaskStatus | undefined) {}

  private index: ReadonlyMap<string, number> = new Map();
  private ids: string[] = [];
  /** Task i's dependents are `dependents[firstDependent[i] .. firstDependent[i + 1])`. */
  private firstDependent: Int32Array = new Int32Array(1);
  private dependents: Int32Array = new Int32Array(0);
  private waitingOn: Int32Array = new Int32Array(0);
  private criticalPath: Int32Array = new Int32Array(0);
  private order: Int32Array = new Int32Array(0);
  private readonly counts = new Map<TaskStatus, number>();
  private readonly queue = new ReadyQueue();
  private readonly claims = new FileClaims();

  /**
   * Rebuilds everything from the tasks (a plan, a restore, a rollback); `recordOf` gives the record of a
   * ready or in-flight one (for the queue and its files). `places`, each task's index in `tasks`, is the
   * run's own (TaskSet's, never changed once handed out) when given, so a restore of 100,000 tasks does
   * not build a second map of them. Returns the pending tasks that wait for nothing any more, for the
   * caller to unblock.
   */
  rebuild<T extends GraphTask>(
    tasks: readonly T[],
    recordOf: (task: T) => TaskRecord,
    places?: ReadonlyMap<string, number>,
  ): string[] {
    const n = tasks.length;
    // Made in loops, not from arrays of pairs and of lists: a restore of 100,000 tasks allocated 200,000
    // small arrays here, collected soon after.
    this.ids = new Array<string>(n);
    for (let i = 0; i < n; i++) this.ids[i] = tasks[i]!.id;
    this.index = places ?? placesOf(this.ids);
    this.counts.clear();
    this.queue.clear();
    this.claims.clear();
    const deps = dependenciesOf(tasks, this.index);
    // The dependents counted, then filled in.
    const first = new Int32Array(n + 1);
    for (const d of deps.list) first[d + 1]!++;
    for (let i = 0; i < n; i++) first[i + 1]! += first[i]!;
    const dependents = new Int32Array(first[n]!);
    const fill = first.slice(0, n);
    for (let i = 0; i < n; i++) {
      for (let k = deps.first[i]!; k < deps.first[i + 1]!; k++) dependents[fill[deps.list[k]!]!++] = i;
    }
    this.firstDependent = first;
    this.dependents = dependents;
    this.criticalPath = longestChains(deps, first, dependents);
    this.order = naturalRanks(this.ids);
    this.waitingOn = new Int32Array(n);
    const unblocking = unblockingTasks(tasks, deps);
    const free: string[] = [];
    tasks.forEach((task, i) => {
      this.counts.set(task.status, (this.counts.get(task.status) ?? 0) + 1);
      let waiting = 0;
      for (let k = deps.first[i]!; k < deps.first[i + 1]!; k++) if (!unblocking[deps.list[k]!]) waiting++;
      this.waitingOn[i] = waiting;
      if (task.status === 'pending' && waiting === 0) free.push(task.id);
      else if (task.status === 'ready') this.enqueue(recordOf(task));
      else if (IN_FLIGHT_STATUSES.has(task.status))
        this.claims.hold(task.id, parsedTouchesOf(recordOf(task)));
    });
    return free;
  }

  /**
   * A task moved: counts and queue follow, and the dependents it freed (pending, waiting for nothing
   * now) are returned for the caller to unblock.
   */
  moved(task: TaskRecord, from: TaskStatus, to: TaskStatus): string[] {
    this.counts.set(from, (this.counts.get(from) ?? 1) - 1);
    this.counts.set(to, (this.counts.get(to) ?? 0) + 1);
    if (to === 'ready') this.enqueue(task);
    else {
      this.queue.delete(task.id);
      this.claims.unpark(task.id);
    }
    if (!IN_FLIGHT_STATUSES.has(to)) this.release(task.id);
    const i = this.index.get(task.id);
    if (i === undefined) return [];
    const was = this.unblocks(i, from);
    const is = this.unblocks(i, to);
    if (is && !was) return this.unlock(i);
    if (!is && was) this.relock(i);
    return [];
  }

  /**
   * Whether a task in `status` lets its dependents go on: done, or skipped once its own dependencies
   * let it (skipping gives up a task's work, not the order around it).
   */
  private unblocks(i: number, status: TaskStatus): boolean {
    return status === 'done' || (status === 'skipped' && this.waitingOn[i] === 0);
  }

  /** A ready task taken off the queue and not started goes back in its place. */
  requeue(task: TaskRecord): void {
    this.release(task.id);
    if (task.status === 'ready') this.enqueue(task);
  }

  /**
   * The best ready task that may start now, taken off the queue: it holds its touches from now on. A
   * task whose touches overlap a holder's waits for it instead (a task sent to its review never does:
   * its work is done).
   */
  takeReady(): string | undefined {
    for (;;) {
      const next = this.claims.takeWoken(this.queue.peek()) ?? this.queue.pop();
      if (next === undefined) return undefined;
      const wait = next.toReview ? undefined : this.claims.blocker(next.touches);
      if (wait === undefined) {
        this.claims.hold(next.id, next.touches);
        return next.id;
      }
      this.claims.park(next, wait);
    }
  }

  /** A task in flight learned the files its change touched. */
  learned(id: string, files: readonly string[]): void {
    this.claims.learned(id, files);
  }

  /** What a ready task waits for, when it waits for another's files. */
  fileWaitOf(id: string): FileWait | undefined {
    return this.claims.waitOf(id);
  }

  /** Ready tasks that may start now (not counting those waiting for another's files). */
  get readyCount(): number {
    return this.queue.size + this.claims.wokenCount;
  }

  /** Ready tasks waiting for a task in flight to let go of files they touch. */
  get waitingForFiles(): number {
    return this.claims.waitingCount;
  }

  /** How many of the task's dependencies are not done or skipped. */
  waitingFor(id: string): number {
    const i = this.index.get(id);
    return i === undefined ? 0 : this.waitingOn[i]!;
  }

  /** The longest chain of tasks still ahead of `id`, itself included. */
  criticalPathOf(id: string): number {
    const i = this.index.get(id);
    return i === undefined ? 1 : this.criticalPath[i]!;
  }

  dependentsOf(id: string): readonly string[] {
    const i = this.index.get(id);
    if (i === undefined) return [];
    const out: string[] = [];
    for (let k = this.firstDependent[i]!; k < this.firstDependent[i + 1]!; k++)
      out.push(this.ids[this.dependents[k]!]!);
    return out;
  }

  count(status: TaskStatus): number {
    return this.counts.get(status) ?? 0;
  }

  /** The non-zero counts by status. */
  countsByStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [status, n] of this.counts) if (n > 0) out[status] = n;
    return out;
  }

  get size(): number {
    return this.ids.length;
  }

  private enqueue(task: TaskRecord): void {
    this.claims.unpark(task.id);
    const i = this.index.get(task.id);
    const touches = parsedTouchesOf(task);
    this.queue.push({
      id: task.id,
      toReview: awaitsReview(task),
      criticalPath: i === undefined ? 1 : this.criticalPath[i]!,
      priority: task.priority,
      order: i === undefined ? 0 : this.order[i]!,
      ...(touches && { touches }),
    });
  }

  /** The task holds no files now: the ready tasks that waited for it may start. */
  private release(id: string): void {
    for (const task of this.claims.release(id)) this.queue.push(task);
  }

  /** The dependents of a task that now unblocks; a skipped one waiting for nothing now frees its own. */
  private unlock(i: number, free: string[] = []): string[] {
    for (let k = this.firstDependent[i]!; k < this.firstDependent[i + 1]!; k++) {
      const dependent = this.dependents[k]!;
      const waiting = --this.waitingOn[dependent]!;
      if (waiting !== 0) continue;
      const id = this.ids[dependent]!;
      if (this.statusOf(id) === 'skipped') this.unlock(dependent, free);
      else free.push(id);
    }
    return free;
  }

  private relock(i: number): void {
    for (let k = this.firstDependent[i]!; k < this.firstDependent[i + 1]!; k++) {
      const dependent = this.dependents[k]!;
      const waiting = this.waitingOn[dependent]!++;
      if (waiting === 0 && this.statusOf(this.ids[dependent]!) === 'skipped') this.relock(dependent);
    }
  }
}

function placesOf(ids: readonly string[]): Map<string, number> {
  const places = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) places.set(ids[i]!, i);
  return places;
}

/** Every task's dependencies as numbers (unknown ones dropped): task i's are `list[first[i] .. first[i + 1])`. */
interface Dependencies {
  first: Int32Array;
  list: Int32Array;
}

function dependenciesOf(tasks: readonly GraphTask[], index: ReadonlyMap<string, number>): Dependencies {
  let total = 0;
  for (const task of tasks) total += task.dependencies.length;
  const first = new Int32Array(tasks.length + 1);
  const list = new Int32Array(total);
  let k = 0;
  for (let i = 0; i < tasks.length; i++) {
    for (const dep of tasks[i]!.dependencies) {
      const d = index.get(dep);
      if (d !== undefined) list[k++] = d;
    }
    first[i + 1] = k;
  }
  return { first, list: list.subarray(0, k) };
}

/**
 * The length of the longest chain from each task to the end of the graph, counting the task itself:
 * Kahn's algorithm from the sinks backwards, a task's length known once all its dependents' are.
 */
function longestChains(deps: Dependencies, first: Int32Array, dependents: Int32Array): Int32Array {
  const n = first.length - 1;
  const length = new Int32Array(n);
  const left = new Int32Array(n);
  for (let i = 0; i < n; i++) left[i] = first[i + 1]! - first[i]!;
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (left[i] === 0) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q]!;
    let longest = 0;
    for (let k = first[i]!; k < first[i + 1]!; k++) longest = Math.max(longest, length[dependents[k]!]!);
    length[i] = longest + 1;
    for (let k = deps.first[i]!; k < deps.first[i + 1]!; k++) {
      const d = deps.list[k]!;
      if (--left[d]! === 0) queue.push(d);
    }
  }
  // A task on a cycle (never in a valid plan) is never reached; it counts as a chain of one.
  for (let i = 0; i < n; i++) if (length[i] === 0) length[i] = 1;
  return length;
}

/**
 * Which tasks let their dependents go on: every done task, and a skipped one once its own dependencies
 * do. Skipping gives up a task's work, not the order around it: what depends on a skipped task still
 * waits for what the skipped task was waiting for.
 */
function unblockingTasks(tasks: readonly GraphTask[], deps: Dependencies): Uint8Array {
  const UNKNOWN = 0;
  const NO = 1;
  const YES = 2;
  const known = new Uint8Array(tasks.length);
  const unblocks = (i: number): boolean => {
    if (known[i] !== UNKNOWN) return known[i] === YES;
    // Provisionally no while its dependencies are looked at: a cycle (never in a valid plan) unblocks nothing.
    known[i] = NO;
    const status = tasks[i]!.status;
    let answer = status === 'done';
    if (status === 'skipped') {
      answer = true;
      for (let k = deps.first[i]!; k < deps.first[i + 1]! && answer; k++) answer = unblocks(deps.list[k]!);
    }
    known[i] = answer ? YES : NO;
    return answer;
  };
  const out = new Uint8Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) out[i] = unblocks(i) ? 1 : 0;
  return out;
}

/** What the task will touch, parsed once; undefined when it names nothing. */
function parsedTouchesOf(task: TaskRecord) {
  const touches = touchesOf(task);
  return touches.length === 0 ? undefined : parseTouches(touches);
}
