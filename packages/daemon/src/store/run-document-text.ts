import type { TaskRecord } from '@orc/shared';
import { TaskText, type DocumentTask, type RunDocumentToWrite } from './run-document.js';

/** Where tasks that stay as they are are written once (SettledSegment): the document names those it holds. */
export interface SettledTasks {
  holds(task: DocumentTask): boolean;
  /** What the segment holds of the task (an earlier state of it), if anything. */
  earlier(id: string): DocumentTask | undefined;
}

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
 * A task record is immutable (a task changes by an event to its actor, which replaces the record), so
 * a record is serialised again when it is a different object, or when the run said it changed
 * (`taskChanged`, told of every event that names a task). Re-serialising every record whenever the run
 * was not executing, and the in-flight ones at every rendering, cost three whole serialisations of a
 * 10,000-task run (0.3 s of CPU) for records that had not changed.
 */
export class RunDocumentText {
  private readonly cache = new Map<string, CachedTask>();
  private changed = new Set<string>();

  taskChanged(taskId: string): void {
    this.changed.add(taskId);
  }

  /**
   * The document's JSON, newline-terminated, as pieces to be written one after another. The fields are
   * serialised now and the tasks as the pieces are taken: the task list is this instant's (a fresh
   * array of immutable records and texts), so what is written is the document of this instant however
   * long the writing takes, and a writer that takes a megabyte of pieces per turn of the event loop
   * never holds the loop for the whole document. Rendered at once, a 100,000-task document held it for
   * 70–340 ms per save (load 12, 2 cores), even with every task's text cached. Every task is on a line
   * of its own (see RunDocumentFile's read). The pieces are the cached texts themselves: nothing is copied.
   */
  render(doc: RunDocumentToWrite, segment?: SettledTasks): Iterable<string> {
    const { tasks: list, ...rest } = doc;
    const head = JSON.stringify(rest);
    // This instant's list, whatever becomes of the caller's array (100,000 entries: under a millisecond).
    const tasks = [...list];
    // Tasks told changed from now on are the next rendering's to serialise again.
    const changed = this.changed;
    this.changed = new Set();
    const pieces = function* (this: RunDocumentText): Generator<string> {
      yield head.slice(0, -1);
      yield head.length > 2 ? ',"tasks":[' : '"tasks":[';
      for (let i = 0; i < tasks.length; i++) {
        yield i > 0 ? ',\n' : '\n';
        yield this.taskJson(tasks[i]!, changed, segment);
      }
      yield ']}\n';
      if (this.cache.size > tasks.length) {
        // Tasks went away (a re-plan): forget their text.
        const ids = new Set(tasks.map((task) => task.id));
        for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
      }
    };
    return pieces.call(this);
  }

  private taskJson(task: DocumentTask, changed: ReadonlySet<string>, segment?: SettledTasks): string {
    // A task the segment holds as it is is named by its id: its record is not written again.
    const held = segment?.holds(task) === true;
    if (task instanceof TaskText) {
      // The run keeps its text: what was cached for its record goes.
      this.cache.delete(task.id);
      return held ? JSON.stringify(task.id) : task.json;
    }
    if (held) return JSON.stringify(task.id);
    return this.recordJson(task, changed);
  }

  private recordJson(task: TaskRecord, changed: ReadonlySet<string>): string {
    const cached = this.cache.get(task.id);
    if (cached !== undefined && cached.record === task && !changed.has(task.id)) return cached.json;
    const json = JSON.stringify(task);
    this.cache.set(task.id, { record: task, json });
    return json;
  }
}
