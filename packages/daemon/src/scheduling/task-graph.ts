import {
  IN_FLIGHT_STATUSES,
  criticalPathLengths,
  parseTouches,
  touchesOf,
  type FileWait,
  type TaskRecord,
  type TaskStatus,
} from '@orc/shared';
import { awaitsReview } from '../actors/task.machine.js';
import { FileClaims } from './file-claims.js';
import { ReadyQueue } from './ready-queue.js';
import { unblockingTasks } from './unblocking-tasks.js';

/**
 * What the scheduler knows of a run's tasks: who waits on whom, how many of each task's dependencies are
 * not yet done, the longest chain still ahead of each task, the counts by status, and the ready queue
 * (longest remaining critical path first, then priority, then natural id order). It is told of every
 * move and answers which dependents a move frees; it changes no task itself. A ready task whose touches
 * overlap a task's in flight waits for it off the queue (`FileClaims`) while the others go first.
 */
export class TaskGraph {
  /** The status of a task as the run has it now. */
  constructor(private readonly statusOf: (id: string) => TaskStatus | undefined) {}

  private readonly dependents = new Map<string, string[]>();
  private readonly waitingOn = new Map<string, number>();
  private criticalPath = new Map<string, number>();
  private order = new Map<string, number>();
  private readonly counts = new Map<TaskStatus, number>();
  private readonly queue = new ReadyQueue();
  private readonly claims = new FileClaims();
  private total = 0;

  /**
   * Rebuilds everything from the records (a plan, a restore, a rollback). Returns the pending tasks
   * that wait for nothing any more, for the caller to unblock.
   */
  rebuild(tasks: readonly TaskRecord[]): string[] {
    this.dependents.clear();
    this.waitingOn.clear();
    this.counts.clear();
    this.queue.clear();
    this.claims.clear();
    this.total = tasks.length;
    for (const task of tasks) this.dependents.set(task.id, []);
    for (const task of tasks) {
      for (const dep of task.dependencies) this.dependents.get(dep)?.push(task.id);
      this.counts.set(task.status, (this.counts.get(task.status) ?? 0) + 1);
    }
    this.criticalPath = criticalPathLengths(tasks);
    const collator = new Intl.Collator('en', { numeric: true });
    this.order = new Map(
      tasks
        .map((t) => t.id)
        .sort(collator.compare)
        .map((id, i) => [id, i]),
    );
    const unblocking = unblockingTasks(new Map(tasks.map((task) => [task.id, task])));
    const free: string[] = [];
    for (const task of tasks) {
      const waiting = task.dependencies.filter((dep) => !unblocking.has(dep)).length;
      this.waitingOn.set(task.id, waiting);
      if (task.status === 'pending' && waiting === 0) free.push(task.id);
      else if (task.status === 'ready') this.enqueue(task);
      else if (IN_FLIGHT_STATUSES.has(task.status)) this.claims.hold(task.id, parsedTouchesOf(task));
    }
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
      this.unpark(task.id);
    }
    if (!IN_FLIGHT_STATUSES.has(to)) this.release(task.id);
    const was = this.unblocks(task.id, from);
    const is = this.unblocks(task.id, to);
    if (is && !was) return this.unlock(task.id);
    if (!is && was) this.relock(task.id);
    return [];
  }

  /**
   * Whether a task in `status` lets its dependents go on: done, or skipped once its own dependencies
   * let it (skipping gives up a task's work, not the order around it).
   */
  private unblocks(id: string, status: TaskStatus): boolean {
    return status === 'done' || (status === 'skipped' && this.waitingFor(id) === 0);
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
    return this.waitingOn.get(id) ?? 0;
  }

  /** The longest chain of tasks still ahead of `id`, itself included. */
  criticalPathOf(id: string): number {
    return this.criticalPath.get(id) ?? 1;
  }

  dependentsOf(id: string): readonly string[] {
    return this.dependents.get(id) ?? [];
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
    return this.total;
  }

  private enqueue(task: TaskRecord): void {
    this.unpark(task.id);
    const touches = parsedTouchesOf(task);
    this.queue.push({
      id: task.id,
      toReview: awaitsReview(task),
      criticalPath: this.criticalPath.get(task.id) ?? 1,
      priority: task.priority,
      order: this.order.get(task.id) ?? 0,
      ...(touches && { touches }),
    });
  }

  private unpark(id: string): void {
    this.claims.unpark(id);
  }

  /** The task holds no files now: the ready tasks that waited for it may start. */
  private release(id: string): void {
    for (const task of this.claims.release(id)) this.queue.push(task);
  }

  /** The dependents of a task that now unblocks; a skipped one waiting for nothing now frees its own. */
  private unlock(id: string, free: string[] = []): string[] {
    for (const dependent of this.dependents.get(id) ?? []) {
      const waiting = (this.waitingOn.get(dependent) ?? 1) - 1;
      this.waitingOn.set(dependent, waiting);
      if (waiting !== 0) continue;
      if (this.statusOf(dependent) === 'skipped') this.unlock(dependent, free);
      else free.push(dependent);
    }
    return free;
  }

  private relock(id: string): void {
    for (const dependent of this.dependents.get(id) ?? []) {
      const waiting = this.waitingOn.get(dependent) ?? 0;
      this.waitingOn.set(dependent, waiting + 1);
      if (waiting === 0 && this.statusOf(dependent) === 'skipped') this.relock(dependent);
    }
  }
}

/** What the task will touch, parsed once; undefined when it names nothing. */
function parsedTouchesOf(task: TaskRecord) {
  const touches = touchesOf(task);
  return touches.length === 0 ? undefined : parseTouches(touches);
}
