import { SETTLED_STATUSES, type TaskRecord, type TaskStatus } from '@orc/shared';
import { TaskChanges } from '../store/document-task-list.js';
import { TaskText, recordOfTask, type DocumentTask } from '../store/run-document.js';
import { FlatMachine } from '../actors/flat-machine.js';
import { TaskActor, type TaskLogic } from '../actors/task-actor.js';
import { LIVE_TASK_STATUSES, type TaskEvent, type taskMachine } from '../actors/task.machine.js';

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
 * its review with its charge), 4 of them moves; its actor made from its record and let go (TaskActor:
 * the record as its snapshot, no XState actor system). Measured alone on the shared 2-core machine: ~4 µs
 * of CPU a task with the machine run as a FlatMachine, against ~45 µs with each event an XState
 * macrostep and the record made from XState's snapshot at each change (and ~150 µs with an XState actor
 * per live task and 7 events).
 *
 * A settled task is kept as the text of its record (TaskText) once the document was written with it:
 * what the document needs, and a fifth of the memory of the record's objects. It is parsed when asked for.
 */
export class TaskSet {
  /** Every task as it is kept, in the run's order. */
  private list: DocumentTask[] = [];
  /**
   * Each task's place in `list`. Handed to the task graph (`placed`), which numbers the tasks by it
   * instead of building a map of its own (100,000 entries at a restore), so it is never changed once
   * handed out: tasks coming or going make a new one.
   */
  private places = new Map<string, number>();
  private readonly live = new Map<string, TaskActor>();
  /**
   * Settled tasks still kept as records, to become text at the next `stored()`: only they are looked
   * at then, not every task (each save went over all 10,000 of a run's records, ~3% of its CPU).
   */
  private readonly settledRecords = new Set<string>();
  /**
   * Tasks whose kept record or text changed since the last `changes()`, and whether tasks came or went
   * (or were all replaced) since then: a save then takes them all. A save took every task of a
   * 100,000-task run, and the store walked them all twice (7% of the daemon's CPU, `holds` alone).
   */
  private readonly changedIds = new Set<string>();
  private reshaped = true;
  /** The task machine, as the run's task actors run it. */
  private readonly logic: TaskLogic;
  /** Counts changes to the plan's shape (tasks added, removed, edited), for what is made from it once. */
  revision = 0;

  constructor(
    machine: typeof taskMachine,
    private readonly onMove: (move: TaskMove) => void,
  ) {
    this.logic = new FlatMachine(machine);
  }

  get size(): number {
    return this.list.length;
  }

  private kept(id: string): DocumentTask | undefined {
    const i = this.places.get(id);
    return i === undefined ? undefined : this.list[i];
  }

  /** The task's record (a settled task's parsed from its text). */
  get(id: string): TaskRecord | undefined {
    const task = this.kept(id);
    return task === undefined ? undefined : recordOfTask(task);
  }

  statusOf(id: string): TaskStatus | undefined {
    return this.kept(id)?.status;
  }

  /** Every task's record, in the run's order (settled ones parsed from their text). */
  *values(): Generator<TaskRecord> {
    for (const task of this.list) yield recordOfTask(task);
  }

  /** Every task as it is kept, records and texts, in the run's order: ids, titles and statuses are read as they are. */
  rows(): IterableIterator<DocumentTask> {
    return this.list.values();
  }

  /** Every task as it is kept (a copy of the list), and each one's place in it (never changed: see `places`). */
  placed(): { tasks: DocumentTask[]; places: ReadonlyMap<string, number> } {
    return { tasks: [...this.list], places: this.places };
  }

  /**
   * Every task for the document to write: a settled task's record becomes its text first, and is kept
   * so from now on (the document's writer serialises records anyway; it takes a text as it is).
   */
  stored(): DocumentTask[] {
    this.seal();
    return [...this.list];
  }

  /**
   * What changed for the run's document since the last call: the tasks changed since (settled ones as
   * their text, as `stored`), or every task when tasks came, went or were all replaced since.
   */
  changes(): TaskChanges {
    this.seal();
    const changes = this.reshaped
      ? TaskChanges.whole([...this.list])
      : TaskChanges.some([...this.changedIds].flatMap((id) => this.kept(id) ?? []));
    this.changedIds.clear();
    this.reshaped = false;
    return changes;
  }

  /** The settled tasks still kept as records become their text. */
  private seal(): void {
    for (const id of this.settledRecords) {
      const i = this.places.get(id);
      const task = i === undefined ? undefined : this.list[i];
      if (task !== undefined && !(task instanceof TaskText) && SETTLED_STATUSES.has(task.status)) {
        this.list[i!] = TaskText.of(task);
        this.changedIds.add(id);
      }
    }
    this.settledRecords.clear();
  }

  /** Notes a record just kept, so that a settled one becomes text at the next `stored()`. */
  private noteKept(record: TaskRecord): void {
    if (SETTLED_STATUSES.has(record.status)) this.settledRecords.add(record.id);
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
    this.list = [];
    this.places = new Map();
    this.settledRecords.clear();
    this.reshaped = true;
    for (const record of records) {
      const size = this.places.size;
      this.places.set(record.id, this.list.length);
      if (this.places.size > size) this.list.push(record);
      else {
        // An id given twice (never in a valid plan) keeps its first place and its last record.
        const at = this.list.findIndex((task) => task.id === record.id);
        this.places.set(record.id, at);
        this.list[at] = record;
      }
      // A text is a settled task's (restored from the settled segment): never live, and text already.
      if (record instanceof TaskText) continue;
      this.noteKept(record);
      if (LIVE_TASK_STATUSES.has(record.status)) this.live.set(record.id, this.spawn(record));
    }
  }

  /**
   * Tasks a person added to the plan, waiting to run (not live: the scheduler unblocks them). Their
   * ids are new to the run (the caller checked).
   */
  add(records: Iterable<TaskRecord>): void {
    this.places = new Map(this.places);
    for (const record of records) {
      this.places.set(record.id, this.list.length);
      this.list.push(record);
      this.noteKept(record);
      if (LIVE_TASK_STATUSES.has(record.status)) this.live.set(record.id, this.spawn(record));
    }
    this.reshaped = true;
    this.revision += 1;
  }

  /** Tasks a person removed from the plan (none in flight: the caller checked), actors and records. */
  remove(ids: Iterable<string>): void {
    const gone = new Set(ids);
    for (const id of gone) this.forget(id);
    this.list = this.list.filter((task) => !gone.has(task.id));
    this.places = new Map();
    for (let i = 0; i < this.list.length; i++) this.places.set(this.list[i]!.id, i);
    this.reshaped = true;
    this.revision += 1;
  }

  /** Whether the task's machine takes the event in the state the task is in. */
  can(id: string, event: TaskEvent): boolean {
    const record = this.get(id);
    if (!record) return false;
    return this.logic.can(this.live.get(id)?.getSnapshot() ?? record, event);
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
    const previous = actor ? actor.getSnapshot() : before;
    const after = actor ? actor.send(event) : (this.logic.transition(before, event) ?? before);
    if (after === previous) {
      if (actor && !LIVE_TASK_STATUSES.has(before.status)) this.forget(id);
      return false;
    }
    this.list[this.places.get(id)!] = after;
    this.changedIds.add(id);
    this.noteKept(after);
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
    return new TaskActor(this.logic, record);
  }
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
