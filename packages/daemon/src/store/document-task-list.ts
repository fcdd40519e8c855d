import { setImmediate as nextTurn } from 'node:timers/promises';
import { TaskText, type DocumentTask } from './run-document.js';
import type { SettledTasks } from './run-document-text.js';
import { changeLineOf } from './task-change-line.js';

/**
 * A run's tasks as a save hands them to the store: all of them (the first save, a plan, a restore, a
 * rollback, tasks added or removed), or only those changed since the last save (TaskSet.changes).
 */
export class TaskChanges {
  private constructor(
    readonly tasks: readonly DocumentTask[],
    readonly whole: boolean,
  ) {}

  static whole(tasks: readonly DocumentTask[]): TaskChanges {
    return new TaskChanges(tasks, true);
  }

  static some(tasks: readonly DocumentTask[]): TaskChanges {
    return new TaskChanges(tasks, false);
  }
}

/**
 * Tasks per block of the document's text. A block's text is kept and made again only when one of its
 * tasks changed: a save of a 100,000-task run joins the blocks of the tasks that changed (a block of 512
 * names is ~10 µs), not a line per task.
 */
const BLOCK = 512;
const BLOCK_SHIFT = 9;

/** A render gives the event loop a turn once it has held it this long (ms). */
const TURN_MS = 5;

interface Block {
  tasks: DocumentTask[];
  /** Each task's line in the document, made when it is rendered: undefined until then, or since it changed. */
  lines: (string | undefined)[];
  /** The lines joined; undefined when one of them changed. */
  text: string | undefined;
}

/**
 * A live run's tasks as its `state.json` has them, kept by the store between saves and changed by what
 * each save hands over (TaskChanges): the tasks in the run's order, what the settled segment has not been
 * offered since it changed, and the document's text of them in blocks. A save costs the tasks changed
 * since the last, not the run's 100,000: before it, each save walked every task three times (the segment's
 * check, the document's pieces, the list), 10% of the daemon's CPU at 100k, and a render held the event
 * loop for up to 340 ms.
 *
 * Writes of the run's document are one at a time (CoalescingWriter), and the list changes only as a save
 * begins (`take`): what a render reads stays as it was while it is written.
 */
export class DocumentTaskList {
  private blocks: Block[] = [];
  /** Each task's place: block `at >> BLOCK_SHIFT`, line `at & (BLOCK - 1)`. */
  private where = new Map<string, number>();
  /** Tasks the segment has not been offered since they changed; `offerAll` for every task. */
  private readonly unoffered = new Map<string, DocumentTask>();
  private offerAll = true;

  get size(): number {
    return this.where.size;
  }

  /** What a save hands over: every task (an array is every task), or those that changed. */
  take(changes: readonly DocumentTask[] | TaskChanges): void {
    if (!(changes instanceof TaskChanges) || changes.whole) {
      this.layout(changes instanceof TaskChanges ? changes.tasks : changes);
      return;
    }
    for (const task of changes.tasks) {
      const at = this.where.get(task.id);
      // Tasks that come or go come as a whole list: an id not laid out yet is appended all the same.
      if (at === undefined) this.append(task);
      else {
        const block = this.blocks[at >> BLOCK_SHIFT]!;
        block.tasks[at & (BLOCK - 1)] = task;
        block.lines[at & (BLOCK - 1)] = undefined;
        block.text = undefined;
      }
      if (!this.offerAll) this.unoffered.set(task.id, task);
    }
  }

  /** The run said the task changed (an event named it): its line is made again at the next render. */
  taskChanged(id: string): void {
    const at = this.where.get(id);
    if (at === undefined) return;
    const block = this.blocks[at >> BLOCK_SHIFT]!;
    block.lines[at & (BLOCK - 1)] = undefined;
    block.text = undefined;
  }

  /** Every task in the run's order (a finished run's whole document: once). */
  all(): DocumentTask[] {
    return this.blocks.flatMap((block) => block.tasks);
  }

  /** The tasks the segment is to be offered: those changed since it was last (every task, after a whole list). */
  unwritten(): readonly DocumentTask[] {
    return this.offerAll ? this.all() : [...this.unoffered.values()];
  }

  /** The segment took what `unwritten` gave (written and synced). */
  offered(): void {
    this.offerAll = false;
    this.unoffered.clear();
  }

  /**
   * The segment went (a finished run's document is whole): every line naming a task it held is wrong
   * now, and every task is to be offered to the next one.
   */
  forgetSegment(): void {
    for (const block of this.blocks) {
      block.lines.fill(undefined);
      block.text = undefined;
    }
    this.offerAll = true;
    this.unoffered.clear();
  }

  /**
   * The task list of the document, after `head` (the document's other fields' JSON): a block at a time,
   * a task the segment holds as it is named by its id, and the event loop given a turn every few ms of
   * making lines (the first save after a restore makes 100,000).
   */
  async *render(head: string, segment: SettledTasks): AsyncGenerator<string> {
    yield head.slice(0, -1);
    yield head.length > 2 ? ',"tasks":[' : '"tasks":[';
    let since = performance.now();
    let first = true;
    for (const block of this.blocks) {
      // Kept here: the run may say a task changed (`taskChanged`) while the loop has its turn.
      let text = block.text;
      if (text === undefined) {
        const { tasks, lines } = block;
        for (let i = 0; i < tasks.length; i++) lines[i] ??= lineOf(tasks[i]!, segment);
        text = lines.join(',\n');
        block.text = text;
        if (performance.now() - since > TURN_MS) {
          await nextTurn();
          since = performance.now();
        }
      }
      yield first ? '\n' : ',\n';
      yield text;
      first = false;
    }
    yield ']}\n';
  }

  private layout(tasks: readonly DocumentTask[]): void {
    this.blocks = [];
    this.where = new Map();
    for (const task of tasks) this.append(task);
    this.offerAll = true;
    this.unoffered.clear();
  }

  private append(task: DocumentTask): void {
    let last = this.blocks.at(-1);
    if (last === undefined || last.tasks.length === BLOCK) {
      last = { tasks: [], lines: [], text: undefined };
      this.blocks.push(last);
    }
    this.where.set(task.id, ((this.blocks.length - 1) << BLOCK_SHIFT) | last.tasks.length);
    last.tasks.push(task);
    last.lines.push(undefined);
    last.text = undefined;
  }
}

/**
 * A task's line: its id when the segment holds it as it is, a change from what the segment holds of it
 * when that is shorter (a ready task: see changeLineOf), else its record's JSON.
 */
function lineOf(task: DocumentTask, segment: SettledTasks): string {
  if (segment.holds(task)) return JSON.stringify(task.id);
  if (task instanceof TaskText) return task.json;
  return changeLineOf(task, segment.earlier(task.id)) ?? JSON.stringify(task);
}
