import { SETTLED_STATUSES, type TaskRecord, type TaskStatus } from '@orc/shared';
import { TaskText, recordOfTask, type DocumentTask } from '../store/run-document.js';
import { TaskActor, taskScope, type TaskScope } from '../actors/task-actor.js';
import {
  LIVE_TASK_STATUSES,
  type TaskContext,
  type TaskEvent,
  type TaskSnapshot,
  type taskMachine,
} from '../actors/task.machine.js';

/** A task changed status: what it is now, what it was, why when there is a why, and when. */
export interface TaskMove {
  task: TaskRecord;
  /** The record before the move. */
  before: TaskRecord;
  from: TaskStatus;
  to: TaskStatus;
  reason: string | undefined;
  /** The time the move stamped on the record (the event's `at`), when it stamped one. */
  at: string | undefined;
}

/**
 * A run's tasks: every task's record, and an actor for each task that is live (ready, running, reviewing,
 * merging). A record is its task's persisted snapshot (the machine's context, with the state as its
 * status), so a settled or waiting task needs no actor: one is made from its record when it becomes
 * live, and let go when it settles. Restore makes actors for the live tasks only. A task that is not
 * live moves through the same machine, from the snapshot its record makes.
 *
 * Why not an actor for every task: with an actor per task held from the plan on, a 100,000-task run
 * would hold 100,000 snapshots beside the records, and a settled task is kept as text (below). Why not
 * XState children of the run actor: each spawn copies the parent's children map, so 10,000 spawned one
 * at a time took 32 s; and a child is persisted with its parent, where the run's document keeps records.
 *
 * What a task's life costs: 5 events through its machine (freed, assigned, its attempt begun, its answer,
 * its review with its charge), 4 of them moves, each an XState macrostep; its actor made from its record
 * and let go (TaskActor: a snapshot, no XState actor system); its record made from the snapshot at each
 * change. Measured alone on the shared 2-core machine (load ~10): ~45 µs of CPU a task (freed ~9,
 * assigned ~10, begun ~7, answered ~12, reviewed ~14, the snapshot made ~3), against ~150 µs in the same
 * sitting with an XState actor per live task and 7 events (the attempt's end and the review's charge
 * were events of their own). The macrostep is XState's floor: a two-state machine costs about as much.
 *
 * A settled task is kept as the text of its record (TaskText) once the document was written with it:
 * what the document needs, and a fifth of the memory of the record's objects. It is parsed when asked for.
 */
export class TaskSet {
  private readonly records = new Map<string, DocumentTask>();
  private readonly live = new Map<string, TaskActor>();
  /** What the run's task actors share (see TaskActor). */
  private readonly scope: TaskScope;
  /** Counts changes to the plan's shape (tasks added, removed, edited), for what is made from it once. */
  revision = 0;

  constructor(
    private readonly logic: typeof taskMachine,
    private readonly onMove: (move: TaskMove) => void,
  ) {
    this.scope = taskScope(logic);
  }

  get size(): number {
    return this.records.size;
  }

  /** The task's record (a settled task's parsed from its text). */
  get(id: string): TaskRecord | undefined {
    const task = this.records.get(id);
    return task === undefined ? undefined : recordOfTask(task);
  }

  statusOf(id: string): TaskStatus | undefined {
    return this.records.get(id)?.status;
  }

  /** Every task's record, in the run's order (settled ones parsed from their text). */
  *values(): Generator<TaskRecord> {
    for (const task of this.records.values()) yield recordOfTask(task);
  }

  /** Every task as it is kept, records and texts, in the run's order: ids, titles and statuses are read as they are. */
  rows(): IterableIterator<DocumentTask> {
    return this.records.values();
  }

  /**
   * Every task for the document to write: a settled task's record becomes its text first, and is kept
   * so from now on (the document's writer serialises records anyway; it takes a text as it is).
   */
  stored(): DocumentTask[] {
    const tasks: DocumentTask[] = [];
    for (const [id, task] of this.records) {
      if (task instanceof TaskText || !SETTLED_STATUSES.has(task.status)) tasks.push(task);
      else {
        const text = TaskText.of(task);
        this.records.set(id, text);
        tasks.push(text);
      }
    }
    return tasks;
  }

  /** How many task actors are alive (the live tasks). */
  get liveCount(): number {
    return this.live.size;
  }

  /**
   * Replaces every task (a plan, a restore, a rollback). Records are taken as they are: their moves were
   * announced when they happened, or the caller announces the change. Live ones get their actors.
   */
  replaceAll(records: Iterable<DocumentTask>): void {
    this.stopAll();
    this.records.clear();
    for (const record of records) {
      this.records.set(record.id, record);
      // A text is a settled task's (restored from the settled segment): never live.
      if (!(record instanceof TaskText) && LIVE_TASK_STATUSES.has(record.status))
        this.live.set(record.id, this.spawn(record));
    }
  }

  /**
   * Tasks a person added to the plan, waiting to run (not live: the scheduler unblocks them). Their
   * ids are new to the run (the caller checked).
   */
  add(records: Iterable<TaskRecord>): void {
    for (const record of records) {
      this.records.set(record.id, record);
      if (LIVE_TASK_STATUSES.has(record.status)) this.live.set(record.id, this.spawn(record));
    }
    this.revision += 1;
  }

  /** Tasks a person removed from the plan (none in flight: the caller checked), actors and records. */
  remove(ids: Iterable<string>): void {
    for (const id of ids) {
      this.forget(id);
      this.records.delete(id);
    }
    this.revision += 1;
  }

  /** Whether the task's machine takes the event in the state the task is in. */
  can(id: string, event: TaskEvent): boolean {
    const record = this.get(id);
    if (!record) return false;
    return (this.live.get(id)?.getSnapshot() ?? this.snapshotOf(record)).can(event);
  }

  /**
   * Sends the event to the task; returns false when its machine did not take it. A change of status is
   * reported to `onMove` once the record is current, so a listener reading the set sees the new state.
   */
  send(id: string, event: TaskEvent, reason?: string): boolean {
    const before = this.get(id);
    if (!before) return false;
    let actor = this.live.get(id);
    // A task being unblocked becomes live: its actor is made first and takes the event itself.
    if (!actor && event.type === 'task.unblocked') {
      actor = this.spawn(before);
      this.live.set(id, actor);
    }
    // An event the machine does not take leaves the snapshot as it was, the same object.
    const previous = actor ? actor.getSnapshot() : this.snapshotOf(before);
    const next = actor ? actor.send(event) : this.logic.transition(previous, event, this.scope);
    if (next === previous) {
      if (actor && !LIVE_TASK_STATUSES.has(before.status)) this.forget(id);
      return false;
    }
    const after = recordOf(next);
    this.records.set(id, after);
    if (event.type === 'task.edit' || event.type === 'task.unlink') this.revision += 1;
    const isLive = LIVE_TASK_STATUSES.has(after.status);
    if (actor && !isLive) this.forget(id);
    else if (!actor && isLive) {
      actor = this.spawn(after);
      this.live.set(id, actor);
    }
    if (after.status !== before.status) {
      this.onMove({
        task: after,
        before,
        from: before.status,
        to: after.status,
        reason: reason ?? reasonOf(after, event),
        at: 'at' in event ? event.at : undefined,
      });
    }
    return true;
  }

  /** Lets every task actor go; their records stay (a closing or rolling-back run). */
  stopAll(): void {
    this.live.clear();
  }

  private forget(id: string): void {
    this.live.delete(id);
  }

  private spawn(record: TaskRecord): TaskActor {
    return new TaskActor(this.logic, this.scope, this.snapshotOf(record));
  }

  private snapshotOf(record: TaskRecord): TaskSnapshot {
    const { status, ...context } = record;
    return this.logic.resolveState({ value: status, context: context satisfies TaskContext });
  }
}

/** The task's record: its machine's context, with the state it is in as its status. */
export function recordOf(snapshot: TaskSnapshot): TaskRecord {
  return { ...snapshot.context, status: snapshot.value as TaskStatus };
}

/** Why the task moved, for the event that tells of it. */
function reasonOf(task: TaskRecord, event: TaskEvent): string | undefined {
  switch (task.status) {
    case 'failed':
    case 'blocked':
      return task.error;
    case 'ready':
      if (event.type === 'task.reviewed') return `rework: ${task.feedback ?? ''}`;
      if (event.type === 'task.merge_conflict') return `merge conflict in ${event.files.join(', ')}`;
      return undefined;
    default:
      return undefined;
  }
}
