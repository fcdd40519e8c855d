import { Low } from 'lowdb';
import type * as z from 'zod';
import { DamagedFileError } from './damaged-file-error.js';
import { DurableJsonFile, type DurableJsonFileOptions } from './durable-json-file.js';
import { parseStoredRunDocument, type RunDocument, type RunDocumentToWrite } from './run-document.js';
import type { RunDocumentText } from './run-document-text.js';

/**
 * A run document as lowdb holds it: null until it is read or given (lowdb wants default data), and a
 * file that does not exist reads as null. A run gives it with its settled tasks as their text (TaskText);
 * a read gives records.
 */
export type RunDocumentDb = Low<RunDocumentToWrite | null>;

/** Reads the document afresh through lowdb; null when there is no file. */
export async function readRunDocument(db: RunDocumentDb): Promise<RunDocument | null> {
  db.data = null;
  await db.read();
  return dataOf(db);
}

/**
 * What the db holds now (a call, so a check made before an await does not narrow it): after a read, what
 * `RunDocumentFile.parse` made, a document of records.
 */
function dataOf(db: RunDocumentDb): RunDocument | null {
  return db.data as RunDocument | null;
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
  ) {
    super(filename, options);
  }

  /** lowdb over this file. */
  open(): RunDocumentDb {
    return new Low<RunDocumentToWrite | null>(this, null);
  }

  /** The document checked (throws DamagedFileError saying what is wrong with it). */
  protected override parse(text: string): RunDocument {
    const file = this.filename;
    if (isBlank(text)) throw new DamagedFileError(file, 'is empty');
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
    return parsed.data;
  }

  /** The document's JSON as pieces, all serialised now (see RunDocumentText). */
  protected override serialize(doc: RunDocumentToWrite | null): readonly string[] {
    if (doc === null) throw new Error(`no run document to write to ${this.filename}`);
    return this.text.render(doc);
  }
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
