import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import type * as z from 'zod';
import { DamagedFileError } from './damaged-file-error.js';
import { DurableJsonFile, isErrno, type DurableJsonFileOptions } from './durable-json-file.js';
import { TaskStatus, type TaskRecord } from '@orc/shared';
import {
  TaskText,
  parseStoredRunDocument,
  type DocumentTask,
  type KeptRunDocument,
  type RunDocumentToWrite,
} from './run-document.js';
import { RunDocumentText } from './run-document-text.js';
import { SETTLED_FILE, SettledSegment } from './settled-segment.js';
import type { DocumentTaskList } from './document-task-list.js';
import { CHANGE_LINE_START, recordOfChangeLine } from './task-change-line.js';

/**
 * A run document as lowdb holds it: null until it is read or given (lowdb wants default data), and a
 * file that does not exist reads as null. A run gives it with its settled tasks as their text (TaskText);
 * a read gives records.
 */
export type RunDocumentDb = Low<RunDocumentToWrite | null>;

/** Reads the document afresh through lowdb; null when there is no file. */
export async function readRunDocument(db: RunDocumentDb): Promise<KeptRunDocument | null> {
  db.data = null;
  await db.read();
  return dataOf(db);
}

/**
 * A run's `state.json` in `dir` as the store reads it (its settled tasks from their segment, as text),
 * without opening the run: null when there is none.
 */
export function readRunFolder(dir: string, runId: string): Promise<KeptRunDocument | null> {
  const segment = new SettledSegment(join(dir, SETTLED_FILE), SETTLED_FILE);
  const file = new RunDocumentFile(join(dir, 'state.json'), runId, new RunDocumentText(), {}, segment);
  return readRunDocument(file.open());
}

/**
 * What the db holds now (a call, so a check made before an await does not narrow it): after a read, what
 * `RunDocumentFile.parse` made, a document of records.
 */
function dataOf(db: RunDocumentDb): KeptRunDocument | null {
  return db.data as KeptRunDocument | null;
}

/**
 * A run's document file (`state.json`, or a checkpoint's copy) as a lowdb adapter: durable like every
 * file the store writes, written from the run's per-task text cache (RunDocumentText: a save serialises
 * the tasks that changed, not 10 MB), and read back checked, a damaged file said so precisely.
 */
export class RunDocumentFile extends DurableJsonFile<RunDocumentToWrite | null> {
  constructor(
    filename: string,
    private readonly runId: string,
    private readonly text: RunDocumentText,
    options: DurableJsonFileOptions = {},
    /** Where settled tasks go once (the run's `state.json`; a checkpoint is whole in itself). */
    private readonly segment?: SettledSegment,
    /** The run's tasks as its `state.json` has them: a document that names the segment takes them from it. */
    private readonly list?: DocumentTaskList,
  ) {
    super(filename, options);
  }

  /**
   * The document checked, its settled tasks taken from the segment it names (as their text); null when
   * there is no file.
   */
  override async read(): Promise<KeptRunDocument | null> {
    let text: string;
    try {
      text = await readFile(this.filename, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
    const ref = settledRefOf(text);
    if (ref === undefined) return this.parse(text);
    if (this.segment === undefined || ref.file !== this.segment.name) {
      throw new DamagedFileError(this.filename, `names a settled-task file it cannot have (${ref.file})`);
    }
    return this.parse(text, await this.segment.read(ref.bytes));
  }

  /** lowdb over this file. */
  open(): RunDocumentDb {
    return new Low<RunDocumentToWrite | null>(this, null);
  }

  /** The document checked (throws DamagedFileError saying what is wrong with it). */
  protected override parse(text: string, settled?: ReadonlyMap<string, TaskText>): KeptRunDocument {
    const file = this.filename;
    if (isBlank(text)) throw new DamagedFileError(file, 'is empty');
    const read = readTaskLines(text, settled ?? NO_SETTLED, file);
    if (read !== undefined && read.doc.id === this.runId) return read.doc;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      // The parser quotes the text it stopped at, line ends and all: the reason stays on one line.
      const why = (error as Error).message.split(/\s+/).join(' ');
      throw new DamagedFileError(file, `is not valid JSON (${why})`);
    }
    const parsed = parseStoredRunDocument(raw);
    if (!parsed.success) {
      throw new DamagedFileError(file, `is not a valid run document (${issuesOf(parsed.error)})`);
    }
    if (parsed.data.id !== this.runId)
      throw new DamagedFileError(file, `holds run ${parsed.data.id}, not ${this.runId}`);
    const { settled: _ref, ...doc } = parsed.data;
    return doc;
  }

  /**
   * The document's JSON as pieces, its tasks serialised as they are written (see RunDocumentText). A
   * document that names its segment has the list's tasks, those the segment holds named by id
   * (DocumentTaskList: a block at a time, only what changed made again); a finished run's is whole.
   */
  protected override serialize(doc: RunDocumentToWrite | null): Iterable<string> | AsyncIterable<string> {
    if (doc === null) throw new Error(`no run document to write to ${this.filename}`);
    if (doc.settled === undefined || this.segment === undefined) return this.text.render(doc);
    if (this.list === undefined) return this.text.render(doc, this.segment);
    // Made now: the fields are this instant's, whatever becomes of `doc` while it is written.
    const { tasks: _tasks, ...fields } = doc;
    return this.list.render(JSON.stringify(fields), this.segment);
  }
}

const NO_SETTLED: ReadonlyMap<string, TaskText> = new Map();

/**
 * The settled segment the document names (in its first line, among its fields), or undefined when it
 * names none (a document of an earlier version, or a checkpoint). A damaged first line names none: the
 * document's check says what is wrong with it.
 */
function settledRefOf(text: string): { file: string; bytes: number } | undefined {
  const headEnd = text.indexOf('\n');
  const at = text.lastIndexOf(',"settled":{', headEnd === -1 ? undefined : headEnd);
  if (at === -1 || (headEnd !== -1 && at > headEnd)) return undefined;
  const end = text.indexOf('}', at);
  try {
    const ref = JSON.parse(text.slice(at + ',"settled":'.length, end + 1)) as unknown;
    if (typeof ref !== 'object' || ref === null) return undefined;
    const { file, bytes } = ref as Record<string, unknown>;
    if (typeof file !== 'string' || typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0)
      return undefined;
    return { file, bytes };
  } catch {
    return undefined;
  }
}

/**
 * A document as the run writes it (RunDocumentText: its fields, then a task per line), read a line at a
 * time: each task's text is kept beside its record (TaskText.readFrom), so the first save after a restore
 * writes it as it was read instead of serialising it again, and the tasks are checked by hand for what
 * the engine relies on (StoredRunDocument's task shape) rather than by zod, which took ~0.15 s of a
 * 100,000-task restore. A task the segment holds is named by its id, and one changed from what the
 * segment holds of it (a ready task) by a change line (recordOfChangeLine). Undefined when the text is laid out otherwise or anything fails a check: then the
 * whole document is parsed and checked by zod, which says what is wrong.
 */
function readTaskLines(
  text: string,
  settled: ReadonlyMap<string, TaskText>,
  file: string,
): { doc: KeptRunDocument } | undefined {
  const headEnd = text.indexOf('\n');
  if (headEnd === -1 || !text.startsWith('"tasks":[', headEnd - 9)) return undefined;
  let head: unknown;
  try {
    head = JSON.parse(`${text.slice(0, headEnd)}]}`);
  } catch {
    return undefined;
  }
  const parsed = parseStoredRunDocument(head);
  if (!parsed.success || parsed.data.tasks.length > 0) return undefined;
  // The store's own field: the run never sees it (nor does a checkpoint written from the run's document).
  const { settled: _ref, ...fields } = parsed.data;
  const tasks: DocumentTask[] = [];
  for (let start = headEnd + 1; ;) {
    const end = text.indexOf('\n', start);
    if (end === -1) return undefined;
    const last = text.endsWith(']}', end);
    if (!last && text.charCodeAt(end - 1) !== 0x2c /* , */) return undefined;
    const json = text.slice(start, last ? end - 2 : end - 1);
    if (json.charCodeAt(0) === 0x22 /* " */) {
      // A task named by its id: its record is in the segment. An id without an escape is read as it is
      // (100,000 of them parsed took ~40 ms of a restart).
      let id: unknown;
      if (json.length > 1 && json.indexOf('"', 1) === json.length - 1 && !json.includes('\\'))
        id = json.slice(1, -1);
      else {
        try {
          id = JSON.parse(json);
        } catch {
          return undefined;
        }
      }
      const sealed = typeof id === 'string' ? settled.get(id) : undefined;
      if (sealed === undefined) throw lacking(file, json);
      tasks.push(sealed);
      start = end + 1;
      if (last) return start === text.length ? { doc: { ...fields, tasks } } : undefined;
      continue;
    }
    let task: unknown;
    if (json.startsWith(CHANGE_LINE_START)) {
      // A change from the segment's record of the task (a ready task: see changeLineOf).
      task = recordOfChangeLine(json, settled, (id) => lacking(file, JSON.stringify(id)));
      if (!isStoredTask(task)) return undefined;
    } else {
      try {
        task = JSON.parse(json);
      } catch {
        return undefined;
      }
      if (!isStoredTask(task)) return undefined;
      TaskText.readFrom(task, json);
    }
    tasks.push(task);
    start = end + 1;
    if (last) return start === text.length ? { doc: { ...fields, tasks } } : undefined;
  }
}

function lacking(file: string, id: string): DamagedFileError {
  return new DamagedFileError(file, `names settled task ${id}, which its settled-task file lacks`);
}

const TASK_STATUSES: ReadonlySet<unknown> = new Set(TaskStatus.options);

/** What StoredRunDocument asks of a task record, checked without zod. */
function isStoredTask(value: unknown): value is TaskRecord {
  if (typeof value !== 'object' || value === null) return false;
  const task = value as Record<string, unknown>;
  const { attempts, dependencies } = task;
  return (
    typeof task['id'] === 'string' &&
    typeof task['title'] === 'string' &&
    TASK_STATUSES.has(task['status']) &&
    Array.isArray(dependencies) &&
    dependencies.every((d) => typeof d === 'string') &&
    Array.isArray(attempts) &&
    attempts.every(
      (a: unknown) =>
        typeof a === 'object' &&
        a !== null &&
        typeof (a as Record<string, unknown>)['n'] === 'number' &&
        typeof (a as Record<string, unknown>)['outcome'] === 'string',
    )
  );
}

/**
 * Only spaces and line ends. Not a regular expression: V8 keeps the subject of the last match alive, and
 * a test of an 85 MB document kept it in memory after its run was let go.
 */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

function issuesOf(error: z.ZodError): string {
  const shown = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : '';
  return shown.join('; ') + more;
}
