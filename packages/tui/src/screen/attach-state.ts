import { foldView, type OrcEvent, type RunSummary, type RunView, type TaskRecord } from '@orc/shared';
import { describeEvent, type EventLevel, type EventLine, noticeLine } from './event-line.js';
import { scrollWindow } from './task-table.js';
import { WorkerOutputs } from './worker-output.js';

const KEEP_EVENT_LINES = 500;

export interface BusyWorker {
  worker: number;
  task: TaskRecord;
}

/**
 * What the attach screen shows, apart from blessed: the run as of the last frame, recent event lines,
 * each worker's output, and where the cursor is. Events are queued as they arrive and folded in once
 * per frame.
 */
export class AttachState {
  view: RunView | undefined;
  readonly lines: EventLine[] = [];
  readonly outputs = new WorkerOutputs();
  selected = 0;
  offset = 0;
  longestId = 2;
  /** Set by an event the client cannot fold in (a rollback too large to carry its records): fetch the run again. */
  needsRefetch = false;
  private queue: OrcEvent[] = [];

  /** Starts over from a fresh `runs.get`. */
  reset(view: RunView): void {
    const sameRun = this.view?.id === view.id;
    this.view = view;
    this.queue = [];
    this.needsRefetch = false;
    if (!sameRun) {
      this.outputs.clear();
      this.lines.length = 0;
      this.selected = 0;
      this.offset = 0;
    }
    this.measureIds();
    this.move(0);
  }

  push(event: OrcEvent): void {
    this.queue.push(event);
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
      const line = describeEvent(event);
      if (line !== undefined) this.addLine(line);
    }
    const before = view.tasks.length;
    const folded = foldView(view, fresh);
    this.view = folded.view;
    if (folded.incomplete) this.needsRefetch = true;
    if (this.view.tasks.length !== before) this.measureIds();
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

  selectedTask(): TaskRecord | undefined {
    return this.view?.tasks[this.selected];
  }

  move(delta: number): void {
    const total = this.view?.tasks.length ?? 0;
    this.selected = Math.max(0, Math.min(total - 1, this.selected + delta));
  }

  moveTo(index: number): void {
    this.selected = 0;
    this.move(index);
  }

  /** The rows of the table that fit in `height`, with the cursor kept in view. */
  visibleTasks(height: number): { first: number; tasks: TaskRecord[] } {
    const tasks = this.view?.tasks ?? [];
    this.offset = scrollWindow(tasks.length, this.selected, this.offset, height);
    return { first: this.offset, tasks: tasks.slice(this.offset, this.offset + Math.max(0, height)) };
  }

  /** Workers holding a task (working on it or waiting for its review), by worker number. */
  busyWorkers(): BusyWorker[] {
    const busy: BusyWorker[] = [];
    for (const task of this.view?.tasks ?? []) {
      if ((task.status === 'running' || task.status === 'reviewing') && task.worker !== undefined) {
        busy.push({ worker: task.worker, task });
      }
    }
    return busy.sort((a, b) => a.worker - b.worker);
  }

  private addLine(line: EventLine): void {
    this.lines.push(line);
    if (this.lines.length > KEEP_EVENT_LINES) this.lines.splice(0, this.lines.length - KEEP_EVENT_LINES);
  }

  private measureIds(): void {
    let longest = 2;
    for (const task of this.view?.tasks ?? []) longest = Math.max(longest, task.id.length);
    this.longestId = longest;
  }
}
