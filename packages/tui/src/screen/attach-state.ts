import {
  applyEvents,
  foldView,
  TASK_PAGE_LIMIT,
  type OrcEvent,
  type RunSummary,
  type RunView,
  type TaskPage,
  type TaskRecord,
  type TaskStatus,
  untoldOutput,
} from '@orc/shared';
import { describeEvent, type EventLevel, type EventLine, noticeLine } from './event-line.js';
import { RecentEvents } from './recent-events.js';
import { scrollWindow } from './task-table.js';
import { WorkerOutputs } from './worker-output.js';

const KEEP_EVENT_LINES = 500;

export interface BusyWorker {
  worker: number;
  taskId: string;
  status: TaskStatus;
}

/** Rows of the task table to ask the daemon for (`tasks.page`). */
export interface RowWindow {
  offset: number;
  limit: number;
}

/**
 * What the attach screen shows, apart from blessed: the run as of the last frame, recent event lines,
 * each worker's output, and where the cursor is. Events are queued as they arrive and folded in once
 * per frame.
 *
 * A run of more than a page of tasks is held a window at a time: `view.tasks` are the rows from `first`
 * on, the screen asks for the rows around the ones it shows (`wantedRows`) and puts the answer in with
 * `takeRows`. A 100,000-task run is then a few hundred rows here, not 56 MB, and each frame folds the
 * events into those rows only; the counts follow every task's moves (the reducer's page mode).
 */
export class AttachState {
  view: RunView | undefined;
  readonly lines: EventLine[] = [];
  readonly outputs = new WorkerOutputs();
  /** The cursor and the table's first row on screen, as rows of the whole run. */
  selected = 0;
  offset = 0;
  longestId = 2;
  /**
   * Set by an event the client cannot fold in (a rollback too large to carry its records, a new plan of a
   * paged run): fetch the run again.
   */
  needsRefetch = false;
  /** Which row of the run `view.tasks[0]` is. */
  private first = 0;
  /** The view holds a window of the run's tasks rather than all of them. */
  private paged = false;
  private wanted: RowWindow | undefined;
  private queue: OrcEvent[] = [];
  private readonly recent = new RecentEvents();
  private readonly workers = new Map<number, { taskId: string; status: TaskStatus }>();
  /**
   * Rows put in from a page that held back tasks done while the disk took no writes: their completion
   * is before the page's lastEventId, so the run is fetched again once events come.
   */
  private heldBack = false;
  /** Pages that answered ahead of the event stream, put in once it has caught up. */
  private early: { page: TaskPage; put: (tasks: TaskRecord[], after: OrcEvent[]) => void }[] = [];
  /**
   * The rows held are as of this event, ahead of the view (a page that answered before the stream got
   * there): the events up to it are folded into the run's counts, not into the rows again.
   */
  private rowsAsOf = 0;

  /** Starts over from a fresh `runs.get`. */
  reset(view: RunView): void {
    const sameRun = this.view?.id === view.id;
    this.view = view;
    this.queue = [];
    this.early = [];
    this.needsRefetch = false;
    this.heldBack = false;
    this.rowsAsOf = 0;
    this.first = 0;
    this.paged = view.tasks.length < view.taskTotal;
    this.recent.reset(view.lastEventId);
    if (!sameRun) {
      this.outputs.clear();
      this.lines.length = 0;
      this.selected = 0;
      this.offset = 0;
    }
    this.workers.clear();
    this.noteBusy(view.tasks);
    this.measureIds();
    this.move(0);
  }

  push(event: OrcEvent): void {
    this.queue.push(event);
  }

  /** Queues a batch of the stream, folded in with the rest at the next frame. */
  pushBatch(events: readonly OrcEvent[]): void {
    for (const event of events) this.queue.push(event);
  }

  /** Folds queued events into the view; true when something changed. */
  flush(): boolean {
    const view = this.view;
    if (view === undefined || this.queue.length === 0) return false;
    const fresh = this.queue.filter((e) => e.id > view.lastEventId && e.runId === view.id);
    this.queue = [];
    if (fresh.length === 0) return false;
    for (const event of fresh) {
      if (event.type === 'worker.output') this.outputs.append(event.worker, event.taskId, event.text);
      else if (event.type === 'task.assigned') this.outputs.start(event.worker, event.taskId);
      else if (event.type === 'task.worked') this.answered(event);
    }
    this.addLines(fresh);
    this.followWorkers(this.workers, fresh);
    this.recent.add(fresh);
    const before = view.tasks.length;
    // Events the rows held already reflect: the counts and the rest of the view only.
    const reflected = this.rowsAsOf > 0 ? countWhile(fresh, (e) => e.id <= this.rowsAsOf) : 0;
    let incomplete = false;
    let upTo = view;
    if (reflected > 0) {
      const folded = foldView({ ...view, tasks: [] }, fresh.slice(0, reflected));
      upTo = { ...folded.view, tasks: view.tasks };
      incomplete = folded.incomplete;
    }
    const folded = foldView(upTo, reflected > 0 ? fresh.slice(reflected) : fresh);
    this.view = folded.view;
    if (this.view.lastEventId >= this.rowsAsOf) this.rowsAsOf = 0;
    if (incomplete || folded.incomplete || this.heldBack) this.needsRefetch = true;
    // A plan too large to hold whole (the view was empty while the manager planned): held a window at a time.
    if (!this.paged && this.view.tasks.length > TASK_PAGE_LIMIT) this.needsRefetch = true;
    if (this.view.tasks.length !== before) this.measureIds();
    this.putEarlyPages();
    return true;
  }

  /**
   * The run's summary, asked for because the stream went quiet: a pause for a disk that takes no writes
   * has no event to tell of it (see QuietStreamWatch). Its events fold in once the disk is back.
   */
  noteSummary(summary: RunSummary): boolean {
    const view = this.view;
    if (view === undefined || summary.id !== view.id || summary.pauseReason !== 'storage') return false;
    if (
      view.status === 'paused' &&
      view.pauseReason === 'storage' &&
      view.pauseMessage === summary.pauseMessage
    )
      return false;
    this.view = {
      ...view,
      status: 'paused',
      pauseReason: 'storage',
      ...(summary.pauseMessage !== undefined && { pauseMessage: summary.pauseMessage }),
    };
    return true;
  }

  note(level: EventLevel, text: string, now = new Date()): void {
    this.addLine(noticeLine(level, text, now));
  }

  /** How many rows the table has: every task of the run. */
  get total(): number {
    const view = this.view;
    if (view === undefined) return 0;
    return this.paged ? view.taskTotal : view.tasks.length;
  }

  selectedTask(): TaskRecord | undefined {
    return this.view?.tasks[this.selected - this.first];
  }

  move(delta: number): void {
    this.selected = Math.max(0, Math.min(this.total - 1, this.selected + delta));
  }

  moveTo(index: number): void {
    this.selected = 0;
    this.move(index);
  }

  /**
   * The rows of the table that fit in `height`, with the cursor kept in view; a row not held yet is
   * undefined, and the window to fetch is then `wantedRows()`.
   */
  visibleTasks(height: number): { first: number; tasks: (TaskRecord | undefined)[] } {
    const held = this.view?.tasks ?? [];
    const total = this.total;
    this.offset = scrollWindow(total, this.selected, this.offset, height);
    const end = Math.min(total, this.offset + Math.max(0, height));
    const tasks: (TaskRecord | undefined)[] = [];
    for (let row = this.offset; row < end; row++) tasks.push(held[row - this.first]);
    this.wanted = undefined;
    if (this.paged && (this.offset < this.first || end > this.first + held.length)) {
      // A screen more on either side, so moving the cursor a little shows rows already here.
      const offset = Math.max(0, this.offset - height);
      this.wanted = { offset, limit: Math.min(TASK_PAGE_LIMIT, Math.min(total, end + height) - offset) };
    }
    return { first: this.offset, tasks };
  }

  /** The rows the table shows and does not hold, as of the last `visibleTasks`. */
  wantedRows(): RowWindow | undefined {
    return this.wanted;
  }

  /**
   * A page of rows (`tasks.page` with the wanted window) becomes the rows held: brought up to the view
   * with the events folded since it was answered, or, answered ahead of the event stream, shown as it is
   * at once (a key that moved the table waits for the daemon, not for the stream to catch up).
   */
  takeRows(page: TaskPage): void {
    const view = this.view;
    if (view === undefined || page.runId !== view.id) return;
    if (page.lastEventId > view.lastEventId) {
      if (page.unconfirmed !== undefined) this.heldBack = true;
      this.putRows(page.offset, page.tasks);
      this.rowsAsOf = page.lastEventId;
      return;
    }
    this.whenCaughtUp(page, (tasks, after) => {
      const rows = applyEvents({ ...this.view!, tasks, lastEventId: page.lastEventId }, after).tasks;
      this.putRows(page.offset, rows);
      this.rowsAsOf = 0;
    });
  }

  private putRows(offset: number, rows: TaskRecord[]): void {
    this.view = { ...this.view!, tasks: rows };
    this.first = offset;
    this.measureIds();
  }

  /** The tasks workers hold (`tasks.page` of running and reviewing tasks), for a view holding a window. */
  takeBusy(page: TaskPage): void {
    this.whenCaughtUp(page, (tasks, after) => {
      const workers = new Map<number, { taskId: string; status: TaskStatus }>();
      for (const task of tasks) {
        if (task.worker !== undefined) workers.set(task.worker, { taskId: task.id, status: task.status });
      }
      this.followWorkers(workers, after);
      this.workers.clear();
      for (const [worker, busy] of workers) this.workers.set(worker, busy);
    });
  }

  /** Whether the view holds a window of the run's tasks (the screen then asks for rows and busy tasks). */
  get holdsWindow(): boolean {
    return this.paged;
  }

  /** Workers holding a task (working on it or waiting for its review), by worker number. */
  busyWorkers(): BusyWorker[] {
    return [...this.workers]
      .map(([worker, busy]) => ({ worker, ...busy }))
      .sort((a, b) => a.worker - b.worker);
  }

  /**
   * Puts a page in once the view has folded every event the page reflects, with the events the view
   * folded since the page was answered; a page older than the events kept is asked for again.
   */
  private whenCaughtUp(page: TaskPage, put: (tasks: TaskRecord[], after: OrcEvent[]) => void): void {
    const view = this.view;
    if (view === undefined || page.runId !== view.id) return;
    if (page.lastEventId > view.lastEventId) {
      this.early.push({ page, put });
      return;
    }
    const after = this.recent.after(page.lastEventId);
    if (after === undefined) return; // the screen asks again: the rows are still wanted
    if (page.unconfirmed !== undefined) this.heldBack = true;
    put(page.tasks, after);
  }

  private putEarlyPages(): void {
    const lastEventId = this.view?.lastEventId ?? 0;
    const ready = this.early.filter(({ page }) => page.lastEventId <= lastEventId);
    if (ready.length === 0) return;
    this.early = this.early.filter(({ page }) => page.lastEventId > lastEventId);
    for (const { page, put } of ready) this.whenCaughtUp(page, put);
  }

  /** The end of an answer its stream did not tell (it came whole) goes on its worker's pane. */
  private answered(event: Extract<OrcEvent, { type: 'task.worked' }>): void {
    const rest = untoldOutput(event);
    if (rest === '') return;
    const worker =
      this.outputs.workerOf(event.taskId) ??
      [...this.workers].find(([, busy]) => busy.taskId === event.taskId)?.[0];
    if (worker !== undefined) this.outputs.append(worker, event.taskId, rest);
  }

  private noteBusy(tasks: readonly TaskRecord[]): void {
    for (const task of tasks) {
      if ((task.status === 'running' || task.status === 'reviewing') && task.worker !== undefined)
        this.workers.set(task.worker, { taskId: task.id, status: task.status });
    }
  }

  /** Which worker holds which task, after the events: a worker takes a task, and lets go when it settles. */
  private followWorkers(
    workers: Map<number, { taskId: string; status: TaskStatus }>,
    events: readonly OrcEvent[],
  ): void {
    for (const event of events) {
      if (event.type === 'task.assigned')
        workers.set(event.worker, { taskId: event.taskId, status: 'running' });
      else if (event.type === 'task.status') {
        for (const [worker, busy] of workers) {
          if (busy.taskId !== event.taskId) continue;
          if (event.status === 'running' || event.status === 'reviewing') busy.status = event.status;
          else workers.delete(worker);
        }
      }
    }
  }

  private addLine(line: EventLine): void {
    this.lines.push(line);
    if (this.lines.length > KEEP_EVENT_LINES) this.lines.splice(0, this.lines.length - KEEP_EVENT_LINES);
  }

  /**
   * The lines of the events, of which only the last KEEP_EVENT_LINES are kept: described from the end,
   * and trimmed once: describing and trimming each of a frame's 2,000 events at full speed (a 500-line
   * splice per line) was two thirds of the screen's folding.
   */
  private addLines(events: readonly OrcEvent[]): void {
    const lines: EventLine[] = [];
    for (let i = events.length - 1; i >= 0 && lines.length < KEEP_EVENT_LINES; i--) {
      const line = describeEvent(events[i]!);
      if (line !== undefined) lines.push(line);
    }
    for (let i = lines.length - 1; i >= 0; i--) this.lines.push(lines[i]!);
    if (this.lines.length > KEEP_EVENT_LINES) this.lines.splice(0, this.lines.length - KEEP_EVENT_LINES);
  }

  /** The id column fits the longest id seen; a window of a large run only widens it, never narrows it. */
  private measureIds(): void {
    let longest = this.paged ? this.longestId : 2;
    for (const task of this.view?.tasks ?? []) longest = Math.max(longest, task.id.length);
    this.longestId = longest;
  }
}

/** How many of `items`, from the first, satisfy `test`. */
function countWhile<T>(items: readonly T[], test: (item: T) => boolean): number {
  let n = 0;
  while (n < items.length && test(items[n]!)) n++;
  return n;
}
