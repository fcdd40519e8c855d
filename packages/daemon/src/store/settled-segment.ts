import { open, unlink, type FileHandle } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { dirname } from 'node:path';
import { TaskStatus } from '@orc/shared';
import { DamagedFileError } from './damaged-file-error.js';
import { fsyncDir, isErrno } from './durable-json-file.js';
import { TaskText, type DocumentTask } from './run-document.js';

/** How a document names the segment it takes its settled tasks from, and how much of it. */
export interface SegmentRef {
  /** The file's name in the run's folder. */
  file: string;
  /** The bytes of it the document relies on: what lies past them (a torn append) is not read. */
  bytes: number;
}

/** The segment's name in the run's folder, beside `state.json`. */
export const SETTLED_FILE = 'settled.jsonl';

const TASK_STATUSES: ReadonlySet<unknown> = new Set(TaskStatus.options);

/** A long write gives the event loop a turn once it has held it this long (ms). */
const TURN_MS = 5;

/** The lines of a write are joined and encoded about this many characters at a time. */
const CHUNK_LENGTH = 1024 * 1024;

/**
 * A run's tasks whose records stay as they are, append-only (`settled.jsonl`): a settled task's record,
 * and a waiting (pending) task's until it is freed, are written here once, and the run document names
 * them by their id instead of carrying their records at every rewrite. At 100,000 tasks, settled records
 * were three quarters of a 45 MB document rewritten all run long, waiting ones most of the rest; restoring
 * it parsed them all. A line is `[id, status, title, attempt costs, dependencies]` (what a restore reads
 * of such a task: enough for the task graph, the forecast and the counts), a tab, and the record's JSON,
 * kept as its text (TaskText) and parsed only when asked for. Lines of earlier versions are read too: a
 * head of six fields (its sixth, the first attempt's start, no longer read) or of four (no dependencies).
 *
 * A task written again (freed and settled, retried, rolled back) is appended again: the last line of an
 * id within the document's bytes is its record. Lines are written at the end of the bytes written before,
 * not appended blindly, so a write cut short by a crash or a full disk is written over by the next; the
 * document names the bytes it relies on, written and fsynced before it is.
 */
export class SettledSegment {
  /**
   * What each id was last written as (its last line in the file): a settled task's text, or a waiting
   * task's record itself (a record is replaced, never changed, when its task moves). The run holds the
   * same objects: nothing is copied.
   */
  private written = new Map<string, DocumentTask>();
  /** The bytes of whole lines written (and synced): where the next write goes. */
  private size = 0;
  /** The size the file is cut to before the next write: it may hold a torn write past `size`. */
  private untrimmed = true;

  constructor(
    readonly filename: string,
    readonly name: string,
    private readonly onWrite?: (bytes: number) => void,
  ) {}

  /** What a document written now refers to. */
  get ref(): SegmentRef {
    return { file: this.name, bytes: this.size };
  }

  /** Whether the segment holds the task as it is: the document names it by its id. */
  holds(task: DocumentTask): boolean {
    const written = this.written.get(task.id);
    return task instanceof TaskText
      ? written instanceof TaskText && written.json === task.json
      : written === task;
  }

  earlier(id: string): DocumentTask | undefined {
    return this.written.get(id);
  }

  /**
   * Writes the tasks of a document that stay as they are (settled ones, as their text, and waiting ones)
   * and that the segment does not hold yet, and syncs them.
   */
  async write(tasks: readonly DocumentTask[]): Promise<void> {
    // What is written, as it was given (a settled task's text, a waiting task's record), and its lines
    // in chunks of about a megabyte.
    const fresh: DocumentTask[] = [];
    const chunks: string[] = [];
    let lines: string[] = [];
    let chunkLength = 0;
    let since = performance.now();
    for (let i = 0; i < tasks.length; i++) {
      // Every task after a restore or a plan (100,000: 10–20 ms; their lines at the plan's first save,
      // 0.5 s): the event loop gets its turns.
      if ((i & 255) === 255 && performance.now() - since > TURN_MS) {
        await nextTurn();
        since = performance.now();
      }
      const task = tasks[i]!;
      if (this.holds(task)) continue;
      let line: string;
      if (task instanceof TaskText) line = lineOf(task);
      else if (task.status === 'pending') line = lineOf(TaskText.of(task));
      // Live: not written. What the segment holds of it stays known (its last line is still the
      // file's): a ready task's line in the document is a change from its waiting record.
      else continue;
      fresh.push(task);
      lines.push(line);
      chunkLength += line.length;
      if (chunkLength >= CHUNK_LENGTH) {
        chunks.push(lines.join(''));
        lines = [];
        chunkLength = 0;
      }
    }
    if (lines.length > 0) chunks.push(lines.join(''));
    if (chunks.length === 0) return;
    // Written at an offset (not opened to append, where Linux ignores the offset).
    let created = false;
    const handle = await open(this.filename, 'r+').catch((error: unknown) => {
      if (!isErrno(error, 'ENOENT')) throw error;
      created = true;
      return open(this.filename, 'wx', 0o600);
    });
    let written = 0;
    try {
      if (this.untrimmed) {
        await handle.truncate(this.size);
        this.untrimmed = false;
      }
      for (const chunk of chunks) {
        const bytes = Buffer.from(chunk, 'utf8');
        for (let at = 0; at < bytes.length;) {
          at += (await handle.write(bytes, at, bytes.length - at, this.size + written + at)).bytesWritten;
        }
        written += bytes.length;
      }
      await handle.sync();
    } catch (error) {
      // What was written past `size` is written over next time.
      this.untrimmed = true;
      throw error;
    } finally {
      await handle.close();
    }
    // Its name is on disk before a document that needs it.
    if (created) await fsyncDir(dirname(this.filename));
    this.size += written;
    for (const task of fresh) this.written.set(task.id, task);
    this.onWrite?.(written);
  }

  /**
   * Lets go of the file once a document that names none of it is on disk (a finished run's, whole):
   * the next write starts a new one.
   */
  async remove(): Promise<void> {
    this.written.clear();
    this.size = 0;
    this.untrimmed = true;
    await unlink(this.filename).catch((error: unknown) => {
      if (!isErrno(error, 'ENOENT')) throw error;
    });
  }

  /**
   * The settled tasks the first `bytes` of the file hold, by id (an id's last line wins). Throws a
   * DamagedFileError when the file is missing, shorter, or holds a line that is not a settled task. The
   * map is the segment's own record of what it holds (not copied: 100,000 entries): read it before the
   * segment's next write.
   */
  async read(bytes: number): Promise<ReadonlyMap<string, TaskText>> {
    let text: string;
    let handle: FileHandle;
    try {
      handle = await open(this.filename, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT') && bytes === 0) return new Map();
      if (isErrno(error, 'ENOENT'))
        throw new DamagedFileError(this.filename, `is missing; the run document takes ${bytes} bytes of it`);
      throw error;
    }
    try {
      const buffer = Buffer.allocUnsafe(bytes);
      let read = 0;
      while (read < bytes) {
        const { bytesRead } = await handle.read(buffer, read, bytes - read, read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      if (read < bytes) {
        throw new DamagedFileError(
          this.filename,
          `holds ${read} bytes, but the run document takes ${bytes}; it was cut short`,
        );
      }
      // As UTF-8 even when it is all ASCII: Latin-1 decodes 68 MB faster (40 ms against 55), but as an
      // external string, whose slices the line scan and the heads' parse then read ~40% slower.
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
    // An id's last line is its record: the lines before it (a task written waiting, then settled) are
    // passed over by their id alone, not parsed (a third of the lines at half of a 100,000-task run).
    const last = new Map<string, number>();
    let lineNo = 0;
    for (let start = 0; start < text.length;) {
      lineNo++;
      const end = text.indexOf('\n', start);
      const id = end === -1 ? undefined : idOfLine(text, start, end);
      if (id === undefined) throw this.damagedLine(lineNo);
      last.set(id, start);
      start = end + 1;
    }
    const tasks = new Map<string, TaskText>();
    for (const [id, start] of last) {
      const task = taskOfLine(text, start, text.indexOf('\n', start));
      if (task?.id !== id) throw this.damagedLine(lineNumberAt(text, start));
      tasks.set(id, task);
    }
    this.written = tasks;
    this.size = bytes;
    this.untrimmed = true;
    return tasks;
  }

  private damagedLine(lineNo: number): DamagedFileError {
    return new DamagedFileError(this.filename, `line ${lineNo} is not a settled task's record`);
  }
}

/** The id a line starts with, read without parsing the line; undefined when it starts otherwise. */
function idOfLine(text: string, start: number, end: number): string | undefined {
  if (text.charCodeAt(start) !== 0x5b /* [ */ || text.charCodeAt(start + 1) !== 0x22 /* " */)
    return undefined;
  const close = text.indexOf('"', start + 2);
  if (close === -1 || close > end) return undefined;
  const id = text.slice(start + 2, close);
  if (!id.includes('\\')) return id;
  // An id with an escape: its head parsed (the quote found above may be an escaped one).
  const tab = text.indexOf('\t', start);
  try {
    const head = JSON.parse(text.slice(start, tab === -1 || tab > end ? end : tab)) as unknown;
    return Array.isArray(head) && typeof head[0] === 'string' ? head[0] : undefined;
  } catch {
    return undefined;
  }
}

function lineNumberAt(text: string, at: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function lineOf(task: TaskText): string {
  const head = [task.id, task.status, task.title, task.attemptCosts, task.dependencies];
  return `${JSON.stringify(head)}\t${task.json}\n`;
}

/** The task a line holds, or undefined when it is not one (its record is checked when it is parsed). */
function taskOfLine(text: string, start: number, end: number): TaskText | undefined {
  const tab = text.indexOf('\t', start);
  if (tab === -1 || tab > end) return undefined;
  let head: unknown;
  try {
    head = JSON.parse(text.slice(start, tab));
  } catch {
    return undefined;
  }
  // Four fields in a line written before the head carried the dependencies; six in one written while it
  // carried the first attempt's start too (read no more: the forecast's pace counts from this process's starts).
  if (!Array.isArray(head) || head.length < 4 || head.length > 6) return undefined;
  const [id, status, title, costs, deps, started] = head as unknown[];
  if (typeof id !== 'string' || typeof title !== 'string' || !TASK_STATUSES.has(status)) return undefined;
  if (!Array.isArray(costs) || !costs.every((c) => typeof c === 'number')) return undefined;
  if (head.length >= 5 && (!Array.isArray(deps) || !deps.every((d) => typeof d === 'string')))
    return undefined;
  if (head.length === 6 && started !== null && typeof started !== 'number') return undefined;
  const json = text.slice(tab + 1, end);
  if (json.charCodeAt(0) !== 0x7b /* { */ || json.charCodeAt(json.length - 1) !== 0x7d /* } */)
    return undefined;
  // A waiting task's empty lists are one shared pair: 50,000 fewer arrays to keep at half of a
  // 100,000-task run, each copied by the young generation's collections before it is kept.
  const attemptCosts = costs.length === 0 ? NONE : costs;
  if (head.length < 5) return TaskText.sealed(id, title, status as TaskStatus, json, attemptCosts);
  const dependencies = (deps as string[]).length === 0 ? NONE : (deps as string[]);
  return TaskText.sealed(id, title, status as TaskStatus, json, attemptCosts, dependencies);
}

const NONE: readonly never[] = Object.freeze([]);
