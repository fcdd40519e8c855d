import type { RunStatus, TaskRecord } from '@orc/shared';
import { TaskText, type DocumentTask, type RunDocumentToWrite } from './run-document.js';

/** Task statuses whose records change without an event (an attempt's usage, output, outcome). */
const IN_FLIGHT: ReadonlySet<TaskRecord['status']> = new Set(['running', 'reviewing']);

interface CachedTask {
  record: TaskRecord;
  json: string;
}

/**
 * The text of one run's document, serialised a task at a time: each task record's JSON is kept and
 * only records that changed since the last rendering are serialised again, so rewriting a document of
 * 10,000 tasks costs the main thread the changed tasks, not a 10 MB JSON.stringify (a 20–140 ms stall).
 * A settled task the run keeps as its text (TaskText) is written as it is, and nothing is kept for it.
 *
 * A record is serialised again when the run said it changed (`taskChanged`, told of every event that
 * names a task, in the same turn as the change), when it is in flight (running or reviewing: attempts
 * change without events), when it is a different object (a re-plan or a rollback), and every record
 * whenever the run is not executing or its status changed since the last rendering (pauses, cancels and
 * the end of a run change records as they unwind, and those renderings are rare).
 */
export class RunDocumentText {
  private readonly cache = new Map<string, CachedTask>();
  private readonly changed = new Set<string>();
  private lastStatus: RunStatus | undefined;

  taskChanged(taskId: string): void {
    this.changed.add(taskId);
  }

  /**
   * The document's JSON (one line, newline-terminated) as pieces to be written one after another, all
   * serialised before this returns: the caller may write them over several turns while the run goes on
   * changing. The pieces are the cached texts themselves, so rendering copies nothing.
   */
  render(doc: RunDocumentToWrite): string[] {
    const everything = doc.status !== 'executing' || doc.status !== this.lastStatus;
    this.lastStatus = doc.status;
    const { tasks, ...rest } = doc;
    const head = JSON.stringify(rest);
    const pieces: string[] = [head.slice(0, -1), head.length > 2 ? ',"tasks":[' : '"tasks":['];
    tasks.forEach((task, i) => {
      if (i > 0) pieces.push(',');
      pieces.push(this.taskJson(task, everything));
    });
    pieces.push(']}\n');
    this.changed.clear();
    if (this.cache.size > tasks.length) {
      // Tasks went away (a re-plan): forget their text.
      const ids = new Set(tasks.map((task) => task.id));
      for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
    }
    return pieces;
  }

  private taskJson(task: DocumentTask, everything: boolean): string {
    if (task instanceof TaskText) {
      // The run keeps its text: what was cached for its record goes.
      this.cache.delete(task.id);
      return task.json;
    }
    return this.recordJson(task, everything);
  }

  private recordJson(task: TaskRecord, everything: boolean): string {
    const cached = this.cache.get(task.id);
    if (
      cached !== undefined &&
      !everything &&
      cached.record === task &&
      !this.changed.has(task.id) &&
      !IN_FLIGHT.has(task.status)
    ) {
      return cached.json;
    }
    const json = JSON.stringify(task);
    this.cache.set(task.id, { record: task, json });
    return json;
  }
}
