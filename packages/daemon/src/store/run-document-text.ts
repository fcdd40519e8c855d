import type { TaskRecord } from '@orc/shared';
import { TaskText, type DocumentTask, type RunDocumentToWrite } from './run-document.js';

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
  private readonly changed = new Set<string>();

  taskChanged(taskId: string): void {
    this.changed.add(taskId);
  }

  /**
   * The document's JSON, newline-terminated, as pieces to be written one after another, all serialised
   * before this returns: the caller may write them over several turns while the run goes on changing.
   * The pieces are the cached texts themselves, so rendering copies nothing. Every task is on a line of
   * its own (TASK_LINES), so a load reads each task's text as it was written (see RunDocumentFile).
   */
  render(doc: RunDocumentToWrite): string[] {
    const { tasks, ...rest } = doc;
    const head = JSON.stringify(rest);
    const pieces: string[] = [head.slice(0, -1), head.length > 2 ? ',"tasks":[' : '"tasks":['];
    tasks.forEach((task, i) => {
      pieces.push(i > 0 ? ',\n' : '\n');
      pieces.push(this.taskJson(task));
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

  private taskJson(task: DocumentTask): string {
    if (task instanceof TaskText) {
      // The run keeps its text: what was cached for its record goes.
      this.cache.delete(task.id);
      return task.json;
    }
    return this.recordJson(task);
  }

  private recordJson(task: TaskRecord): string {
    const cached = this.cache.get(task.id);
    if (cached !== undefined && cached.record === task && !this.changed.has(task.id)) return cached.json;
    const json = JSON.stringify(task);
    this.cache.set(task.id, { record: task, json });
    return json;
  }
}
