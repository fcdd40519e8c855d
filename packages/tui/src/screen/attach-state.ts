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
import { type EventLevel, type EventLine, noticeLine } from './event-line.js';
import { EventPane } from './event-pane.js';
import { FilteredRows } from './filtered-rows.js';
import { indexOfRow, mergeRows } from './held-rows.js';
import { RecentEvents } from './recent-events.js';
import { TaskFilter, type TaskQuery } from './task-filter.js';
import { scrollWindow } from './task-table.js';
import { WorkerOutputs } from './worker-output.js';

/**
 * Events before the view told again on attach, for the event pane's lines: the pane shows six, and a
 * task's life is about eight events of which half give a line. Read from the end of the journal, they
 * take a few ms at any size of run.
 */
const RECENT_EVENTS = 200;

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

/** Rows the screen asks for, and the rows on screen (or about to be) they are for. */
export interface RowWant {
  window: RowWindow;
  /** A request in flight whose window covers these rows is not superseded by this one. */
  shows: RowWindow;
  /** Rows of the tasks the table's filter shows (`tasks.page`'s status and search), not of every task. */
  query?: TaskQuery;
}

/** Events that add or remove tasks: the rows after them move, held ones included. */
const MOVES_ROWS = new Set<OrcEvent['type']>(['plan.tasks_added', 'plan.tasks_removed']);

/**
 * What the attach screen shows, apart from blessed: the run as of the last frame, recent event lines,
 * each worker's output, and where the cursor is. Events are queued as they arrive and folded in once
 * per frame.
 *
 * A run of more than a page of tasks is held a few windows at a time: `view.tasks` are the rows around
 * the cursor and the table's first and last rows (`rows` says which row each is), the screen asks for the
 * rows it shows and does not hold (`wantedRows`) and puts the answer in with `takeRows`. A 100,000-task
 * run is then a few hundred rows here, not 56 MB, and each frame folds the events into those rows only;
 * the counts follow every task's moves (the reducer's page mode). Holding the first and last rows, kept
 * current by the events like the others, Home and End draw at once instead of after a `tasks.page`
 * (p95 127 ms at 100k, waiting on a daemon short of CPU).
 */
export class AttachState {
  view: RunView | undefined;
  private readonly pane = new EventPane();
  readonly outputs = new WorkerOutputs();
  /** The cursor and the table's first row on screen, as rows of the whole run. */
  selected = 0;
  offset = 0;
  longestId = 2;
  /** Which tasks the table shows (`f`, `/`). */
  readonly filter = new TaskFilter();
  /**
   * Set by an event the client cannot fold in (a rollback too large to carry its records, a new plan of a
   * paged run): fetch the run again.
   */
  needsRefetch = false;
  /** In a view holding a window: the table row of each of `view.tasks`, ascending. */
  private rows: number[] = [];
  /** The table's height at the last `visibleTasks`: how many rows around the cursor and at each end to hold. */
  private height = 0;
  /** The view holds a window of the run's tasks rather than all of them. */
  private paged = false;
  private wanted: RowWant | undefined;
  private queue: OrcEvent[] = [];
  /** A large run's rows under the filter, from the daemon. */
  private readonly filtered = new FilteredRows();
  /** A small run's rows under the filter, worked out here: the view's tasks it was worked out of, and them. */
  private shown: { tasks: readonly TaskRecord[]; query: TaskQuery; rows: TaskRecord[] } | undefined;
  /** The events before the view still to be told on the pane: after `after`, up to `upTo`. */
  private history: { after: number; upTo: number } | undefined;
  private readonly recent = new RecentEvents();
  private readonly workers = new Map<number, { taskId: string; status: TaskStatus }>();
  /**
   * Rows put in from a page that held back tasks done while the disk took no writes: their completion
   * is before the page's lastEventId, so the run is fetched again once events come.
   */
  private heldBack = false;
  /**
   * Pages that answered ahead of the event stream, put in once it has caught up; meanwhile a page of rows
   * (`shows`) is drawn as it is, so a key that asked for it does not wait for the stream.
   */
  private early: {
    page: TaskPage;
    shows: boolean;
    put: (tasks: TaskRecord[], after: OrcEvent[]) => void;
  }[] = [];

  /** Starts over from a fresh `runs.get`. */
  reset(view: RunView): void {
    const sameRun = this.view?.id === view.id;
    const folded = this.view?.lastEventId ?? 0;
    this.view = view;
    this.queue = [];
    this.early = [];
    this.needsRefetch = false;
    this.heldBack = false;
    this.paged = view.tasks.length < view.taskTotal;
    this.rows = this.paged ? view.tasks.map((_, i) => i) : [];
    this.recent.reset(view.lastEventId);
    // Fetched afresh after the link dropped: what happened meanwhile (a restart's restore, its
    // re-dispatches) goes on the pane, which the view alone would skip.
    this.history =
      sameRun && folded < view.lastEventId
        ? { after: Math.max(folded, recentFrom(view)), upTo: view.lastEventId }
        : undefined;
    this.filtered.reset(this.filter.query);
    if (!sameRun) {
      this.history = { after: recentFrom(view), upTo: view.lastEventId };
      this.outputs.clear();
      this.pane.clear();
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

  /**
   * Where the screen follows the run from: a run new to the screen a few events before its view, whose
   * lines the pane shows (a paused run has no new events to show), else the view's last event.
   */
  followFrom(): number {
    return this.history?.after ?? this.view?.lastEventId ?? 0;
  }

  /** Folds queued events into the view; true when something changed. */
  flush(): boolean {
    const view = this.view;
    if (view === undefined || this.queue.length === 0) return false;
    const told = this.tellHistory(view);
    const fresh = this.queue.filter((e) => e.id > view.lastEventId && e.runId === view.id);
    this.queue = [];
    if (fresh.length === 0) return told;
    for (const event of fresh) {
      if (event.type === 'worker.output') this.outputs.append(event.worker, event.taskId, event.text);
      else if (event.type === 'task.assigned') this.outputs.start(event.worker, event.taskId);
      else if (event.type === 'task.worked') this.answered(event);
    }
    this.pane.tell(fresh);
    this.followWorkers(this.workers, fresh);
    this.recent.add(fresh);
    const before = view.tasks.length;
    const folded = foldView(view, fresh);
    this.view = folded.view;
    if (folded.incomplete || this.heldBack) this.needsRefetch = true;
    // Tasks added or removed move the rows after them, which the events do not say of rows not held.
    if (this.paged && fresh.some((e) => MOVES_ROWS.has(e.type))) this.needsRefetch = true;
    // A plan too large to hold whole (the view was empty while the manager planned): held a window at a time.
    if (!this.paged && this.view.tasks.length > TASK_PAGE_LIMIT) this.needsRefetch = true;
    if (this.view.tasks.length !== before) this.measureIds();
    this.putEarlyPages();
    this.filtered.runMoved();
    return true;
  }

  /** The filter changed: the table shows its rows from the first. */
  filterChanged(): void {
    this.filtered.reset(this.filter.query);
    this.selected = 0;
    this.offset = 0;
  }

  /** `12 of 1,500`: how many tasks the filter shows of the run's, or undefined without a filter. */
  matchCount(): { shown: number | undefined; of: number } | undefined {
    const view = this.view;
    if (this.filter.query === undefined || view === undefined) return undefined;
    return { shown: this.paged ? this.filtered.total : this.total, of: view.taskTotal };
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

  /** The event pane's lines, one per thing that happened. */
  get lines(): readonly EventLine[] {
    return this.pane.lines;
  }

  note(level: EventLevel, text: string, now = new Date()): void {
    this.pane.note(noticeLine(level, text, now));
  }

  /** How many rows the table has: every task of the run, or those its filter shows. */
  get total(): number {
    const view = this.view;
    if (view === undefined) return 0;
    if (this.filter.query !== undefined)
      return this.paged ? (this.filtered.total ?? 0) : this.shownRows(this.filter.query).length;
    return this.paged ? view.taskTotal : view.tasks.length;
  }

  selectedTask(): TaskRecord | undefined {
    return this.rowAt(this.selected);
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
  visibleTasks(height: number, now = Date.now()): { first: number; tasks: (TaskRecord | undefined)[] } {
    const total = this.total;
    this.height = Math.max(0, height);
    this.offset = scrollWindow(total, this.selected, this.offset, height);
    const end = Math.min(total, this.offset + this.height);
    const tasks: (TaskRecord | undefined)[] = [];
    for (let row = this.offset; row < end; row++) tasks.push(this.rowAt(row));
    this.wanted = undefined;
    if (this.filter.query !== undefined && this.paged) {
      this.wanted = this.filtered.want(this.offset, Math.max(1, this.height), now);
      return { first: this.offset, tasks };
    }
    if (!this.paged || this.height === 0) return { first: this.offset, tasks };
    const shows = { offset: this.offset, limit: end - this.offset };
    // Two screens more on either side (less for a terminal so tall that a page would not hold them), asked
    // for when a row shown is missing or less than a screen is held beyond them: PageUp and PageDown then
    // show rows already here (fetched while the person read the last page), and a held arrow asks once a
    // screen, not once a row.
    const side = Math.max(0, Math.min(2 * height, Math.floor((TASK_PAGE_LIMIT - height) / 2)));
    const offset = Math.max(0, this.offset - side);
    const limit = Math.min(TASK_PAGE_LIMIT, Math.min(total, end + side) - offset);
    const around = { window: { offset, limit }, shows };
    const margin = Math.min(height, side);
    const near = Math.max(0, this.offset - margin);
    if (tasks.includes(undefined)) this.wanted = around;
    else if (!this.holds({ offset: near, limit: Math.min(total, end + margin) - near })) this.wanted = around;
    else {
      // Then the ends of the table, for Home and End (and a page up or down from there).
      const edge = this.edgeRows();
      const last = { offset: Math.max(0, total - edge), limit: Math.min(edge, total) };
      for (const window of [{ offset: 0, limit: Math.min(edge, total) }, last]) {
        if (!this.holds(window)) this.wanted ??= { window, shows: window };
      }
    }
    return { first: this.offset, tasks };
  }

  /** The rows the screen wants and does not hold, as of the last `visibleTasks`. */
  wantedRows(): RowWant | undefined {
    return this.wanted;
  }

  /** A row of the table: one held, or one of a page shown ahead of the stream. */
  private rowAt(row: number): TaskRecord | undefined {
    const view = this.view;
    if (view === undefined) return undefined;
    const query = this.filter.query;
    if (query !== undefined) return this.paged ? this.filtered.rowAt(row) : this.shownRows(query)[row];
    if (!this.paged) return view.tasks[row];
    for (let i = this.early.length - 1; i >= 0; i--) {
      const { page, shows } = this.early[i]!;
      if (shows && row >= page.offset && row < page.offset + page.tasks.length)
        return page.tasks[row - page.offset];
    }
    const at = indexOfRow(this.rows, row);
    return at < 0 ? undefined : view.tasks[at];
  }

  /** Whether every row of `window` can be drawn. */
  private holds(window: RowWindow): boolean {
    for (let row = window.offset; row < window.offset + window.limit; row++)
      if (this.rowAt(row) === undefined) return false;
    return true;
  }

  /** How many rows to hold at each end of the table: two screens. */
  private edgeRows(): number {
    return Math.min(TASK_PAGE_LIMIT, 2 * Math.max(1, this.height));
  }

  /**
   * Rows worth holding: two screens either side of the table's window and of the cursor (which a key may
   * have moved before the next frame), and the ends of the table.
   */
  private keeps(): (row: number) => boolean {
    const height = Math.max(1, this.height);
    const edge = this.edgeRows();
    const total = this.total;
    const { offset, selected } = this;
    const near = (row: number, at: number) => row >= at - 2 * height && row < at + 3 * height;
    return (row) => row < edge || row >= total - edge || near(row, offset) || near(row, selected);
  }

  /**
   * A page of rows (`tasks.page` with the wanted window) joins the rows held, brought up to the view
   * with the events folded since it was answered; answered ahead of the event stream, it is drawn as it
   * is until the stream catches up (a key that moved the table waits for the daemon, not for the stream).
   */
  takeRows(page: TaskPage, query?: TaskQuery): void {
    const view = this.view;
    if (view === undefined || page.runId !== view.id || !this.paged) return;
    if (query !== undefined) {
      this.filtered.take(page, query);
      this.measure(page.tasks);
      // Fewer tasks match than before: the cursor stays on the table.
      this.move(0);
      return;
    }
    this.whenCaughtUp(
      page,
      (tasks, after) => {
        const rows = applyEvents({ ...this.view!, tasks, lastEventId: page.lastEventId }, after).tasks;
        const held = mergeRows({ rows: this.rows, tasks: this.view!.tasks }, page.offset, rows, this.keeps());
        this.rows = held.rows;
        this.view = { ...this.view!, tasks: held.tasks };
        this.measureIds();
      },
      true,
    );
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
  private whenCaughtUp(
    page: TaskPage,
    put: (tasks: TaskRecord[], after: OrcEvent[]) => void,
    shows = false,
  ): void {
    const view = this.view;
    if (view === undefined || page.runId !== view.id) return;
    if (page.lastEventId > view.lastEventId) {
      this.early.push({ page, put, shows });
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
    for (const { page, put, shows } of ready) this.whenCaughtUp(page, put, shows);
  }

  /** Lines of the queued events the view already had, once, before the lines of the new ones. */
  private tellHistory(view: RunView): boolean {
    const history = this.history;
    if (history === undefined) return false;
    const past = this.queue.filter(
      (e) => e.runId === view.id && e.id > history.after && e.id <= history.upTo,
    );
    if (past.length > 0) {
      this.pane.tell(past);
      history.after = past.at(-1)!.id;
    }
    if (history.after >= history.upTo || this.queue.some((e) => e.id > history.upTo))
      this.history = undefined;
    return past.length > 0;
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

  /** A small run's tasks the filter shows, worked out again when the view's tasks or the filter change. */
  private shownRows(query: TaskQuery): readonly TaskRecord[] {
    const tasks = this.view?.tasks ?? [];
    if (this.shown?.tasks !== tasks || this.shown.query !== query)
      this.shown = { tasks, query, rows: tasks.filter((task) => this.filter.shows(task)) };
    return this.shown.rows;
  }

  /** The id column fits the longest id seen; a window of a large run only widens it, never narrows it. */
  private measureIds(): void {
    this.longestId = this.paged ? this.longestId : 2;
    this.measure(this.view?.tasks ?? []);
  }

  private measure(tasks: readonly TaskRecord[]): void {
    for (const task of tasks) this.longestId = Math.max(this.longestId, task.id.length);
  }
}

/**
 * Where the pane's recent events start. The plan of a large run waiting for approval is among its last
 * events, and its `run.planned` carries every task (tens of MB at 100,000): its pane starts empty (the
 * header says what waits). So does a damaged run's, whose journal a replay cannot read across its hole
 * (a stream that fails is read again from the view's last event: see `reset`).
 */
function recentFrom(view: RunView): number {
  if (view.status === 'damaged') return view.lastEventId;
  if (view.status === 'awaiting_approval' && view.taskTotal > TASK_PAGE_LIMIT) return view.lastEventId;
  return Math.max(0, view.lastEventId - RECENT_EVENTS);
}
