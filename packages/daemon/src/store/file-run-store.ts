import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FINISHED_RUN_STATUSES,
  OrcError,
  statePaths,
  statusToldBy,
  type CheckpointInfo,
  type OrcEvent,
  type RunStatus,
  type StatePaths,
} from '@orc/shared';
import { isoAt, systemClock, type Clock } from '../clock.js';
import { CoalescingWriter, type CoalescingWriterOptions } from './coalescing-writer.js';
import { DamagedFileError } from './damaged-file-error.js';
import { fsyncDir, isErrno, writeFileDurably } from './durable-json-file.js';
import { EventLog } from './event-log.js';
import {
  recordOfTask,
  type KeptRunDocument,
  type RunDocument,
  type RunDocumentToSave,
  type RunDocumentToWrite,
  type RunIndexEntry,
} from './run-document.js';
import { DocumentPacing } from './document-pacing.js';
import { DocumentTaskList } from './document-task-list.js';
import { RunDocumentFile, readRunDocument, type RunDocumentDb } from './run-document-file.js';
import { RunDocumentText } from './run-document-text.js';
import { RunIndex } from './run-index.js';
import { SETTLED_FILE, SettledSegment } from './settled-segment.js';
import type { RunStore, StoredRun } from './store.js';
import { JournalBehindError, writeFailureOf, type WriteFailure } from './write-failure.js';

/** Run and checkpoint ids become path segments: nothing that could climb out of the state directory. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export type FileRunStoreOptions = CoalescingWriterOptions;

export interface StoreStats {
  stateWrites: number;
  stateBytes: number;
  eventWrites: number;
  eventBytes: number;
}

interface RunFiles {
  /** `state.json` through lowdb, written from `list` while the run is live, from `text` once it is whole. */
  document: RunDocumentDb;
  /** The whole document's text (a finished run's), re-serialised only where tasks changed. */
  text: RunDocumentText;
  /** Settled tasks, written once: the document names them by id (its checkpoints are whole). */
  segment: SettledSegment;
  /** The tasks as the document has them, changed by what each save hands over. */
  list: DocumentTaskList;
  events: EventLog;
  /** Where the latest document to save comes from. */
  snapshot?: () => RunDocumentToSave;
  /** What the document on disk says: its status and the last event it reflects. */
  onDisk?: { status: RunStatus; lastEventId: number };
  /** Damage a read found in the journal before the events it asked for (a hole in old history). */
  historyDamage?: DamagedFileError;
  /** When the document is written again (held back until the journal has grown, if large). */
  pacing: DocumentPacing;
}

/** Opens (creating it, mode 0700) the state directory's run store. */
/** A removed run's folder is renamed to this first; the leading dot keeps it from ever loading again. */
const REMOVED_PREFIX = '.removed-';

export async function openFileRunStore(
  stateDir: string,
  options: FileRunStoreOptions = {},
): Promise<FileRunStore> {
  const paths = statePaths(stateDir);
  await makePrivateDir(paths.root);
  await makePrivateDir(paths.runs);
  const store = new FileRunStore(paths, options);
  await store.readIndex();
  return store;
}

/**
 * The run store on disk: a document per run (`state.json`, rewritten through a coalescing writer from
 * text cached per task), an index of runs, an append-only event journal per run, and checkpoints as
 * copies of the document. A run is open (its files held, its text cached) from `createRun` or `loadRun`
 * until `unloadRun`; the journal of any run folder can be read without opening it.
 */
export class FileRunStore implements RunStore {
  private readonly counts: StoreStats = { stateWrites: 0, stateBytes: 0, eventWrites: 0, eventBytes: 0 };
  private readonly writer: CoalescingWriter;
  private readonly index: RunIndex;
  private readonly runs = new Map<string, RunFiles>();
  private readonly failureListeners = new Set<(failure: WriteFailure) => void>();
  private indexProblem: string | undefined;
  /** When damage is found and copies are named. */
  private readonly clock: Clock;

  constructor(
    private readonly paths: StatePaths,
    options: FileRunStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.writer = new CoalescingWriter({
      ...options,
      onError: (error, key) => {
        options.onError?.(error, key);
        const runId = key.startsWith(RUN_KEY) ? key.slice(RUN_KEY.length) : undefined;
        this.failed(runId === undefined ? paths.index : paths.run(runId).state, error, runId);
      },
    });
    this.index = new RunIndex(paths.index, this.writer, this.countState);
  }

  /** Reads `runs/index.json`; an unreadable one is reported by `listRuns`, and rebuilt as runs load. */
  async readIndex(): Promise<void> {
    this.indexProblem = await this.index.read();
  }

  async createRun(doc: RunDocument): Promise<void> {
    if (!SAFE_ID.test(doc.id)) {
      throw new OrcError(
        'STORE_ERROR',
        `run id "${doc.id}" cannot name a folder: use letters, digits, ".", "_", "-"`,
      );
    }
    if (this.runs.has(doc.id) || this.index.has(doc.id)) {
      throw new OrcError('STORE_ERROR', `run ${doc.id} already exists in ${this.paths.runs}`);
    }
    try {
      await makePrivateDir(this.paths.run(doc.id).dir);
    } catch (error) {
      this.failed(this.paths.run(doc.id).dir, error, doc.id);
      throw error;
    }
    this.runs.set(doc.id, this.openRunFiles(doc.id));
    this.scheduleSave(doc.id, () => doc);
    await this.writer.flush(runKey(doc.id));
    this.index.add(doc);
    await this.index.flush();
  }

  onWriteFailure(listener: (failure: WriteFailure) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  async probeWrite(runId: string): Promise<void> {
    const file = join(this.paths.run(runId).dir, '.write-probe');
    await writeFileDurably(file, PROBE_BYTES);
    await rm(file, { force: true });
  }

  scheduleSave(runId: string, snapshot: () => RunDocumentToSave): void {
    const files = this.files(runId);
    files.snapshot = snapshot;
    if (files.pacing.journalTooShort) {
      // Asked for again once the journal has grown (appendEvents), or written at a flush.
      files.pacing.held = true;
      return;
    }
    files.pacing.held = false;
    this.scheduleWrite(runId, files);
  }

  taskChanged(runId: string, taskId: string): void {
    // Not told to the whole document's text, which renders once the run is finished: it kept every id.
    this.runs.get(runId)?.list.taskChanged(taskId);
  }

  async flush(runId?: string): Promise<void> {
    for (const [id, files] of this.runs) {
      if (!files.pacing.held || (runId !== undefined && id !== runId)) continue;
      files.pacing.held = false;
      this.scheduleWrite(id, files);
    }
    await this.writer.flush(runId === undefined ? undefined : runKey(runId));
    // A document write may have just asked for an index write (its status changed).
    await this.index.flush();
  }

  async releaseRun(runId: string): Promise<void> {
    await this.runs.get(runId)?.events.release();
  }

  async unloadRun(runId: string): Promise<void> {
    const files = this.runs.get(runId);
    if (!files) return;
    await this.flush(runId);
    this.runs.delete(runId);
    await files.events.close();
  }

  async removeRun(runId: string): Promise<void> {
    if (!this.index.has(runId) && !this.runs.has(runId)) throw this.notFound(runId);
    await this.unloadRun(runId);
    // Renamed first (one atomic step): a crash after it leaves a run that no longer loads, cleared on open.
    const trash = join(this.paths.runs, `${REMOVED_PREFIX}${runId}`);
    await rename(this.paths.run(runId).dir, trash);
    await fsyncDir(this.paths.runs);
    this.index.remove(runId);
    await this.index.flush();
    await rm(trash, { recursive: true, force: true });
  }

  async appendEvents(runId: string, events: readonly OrcEvent[], lines?: readonly string[]): Promise<void> {
    const files = this.files(runId);
    try {
      await files.events.append(events, lines);
    } catch (error) {
      this.failed(files.events.filename, error, runId);
      throw error;
    }
    // A run that changed status (finished, paused) is written at once: what lists it reads the index.
    const { pacing } = files;
    let moved = false;
    for (const event of events) {
      const status = statusToldBy(event);
      if (status === undefined) continue;
      moved ||= event.type === 'run.status';
      pacing.finished = FINISHED_RUN_STATUSES.has(status);
    }
    if (pacing.held && (moved || !pacing.journalTooShort)) {
      pacing.held = false;
      this.scheduleWrite(runId, files);
    }
  }

  /**
   * A large document is spaced by the journal's growth (DocumentPacing) and written as soon as it has
   * grown enough; spaced by time as well (10× the last write, which took 0.3–0.5 s for 12 MB at load 10),
   * a 100,000-task run killed at half had 102,000 events to replay past its document, not 31,000.
   */
  private scheduleWrite(runId: string, files: RunFiles): void {
    const spacing = files.pacing.paced ? 'unspaced' : 'spaced';
    this.writer.schedule(runKey(runId), () => this.saveDocument(files), spacing);
  }

  readEvents(runId: string, afterId: number): AsyncIterable<OrcEvent> {
    const files = this.runs.get(runId);
    return (files?.events ?? this.journal(runId)).read(afterId, {
      onEarlierDamage: (damage) => {
        if (files) files.historyDamage = damage;
      },
    });
  }

  lastEvent(runId: string): Promise<OrcEvent | undefined> {
    return (this.runs.get(runId)?.events ?? this.journal(runId)).lastEvent();
  }

  journalDamage(runId: string): DamagedFileError | undefined {
    return this.runs.get(runId)?.historyDamage;
  }

  async listRuns(): Promise<{ runs: StoredRun[]; problems: string[] }> {
    const problems = this.indexProblem ? [this.indexProblem] : [];
    this.indexProblem = undefined;
    const folders = new Set<string>();
    let repaired = false;
    for (const entry of await readdir(this.paths.runs, { withFileTypes: true })) {
      if (entry.isDirectory() && SAFE_ID.test(entry.name)) folders.add(entry.name);
      // A removal the daemon did not finish: the run is gone, its index entry and files go now.
      if (entry.isDirectory() && entry.name.startsWith(REMOVED_PREFIX)) {
        this.index.remove(entry.name.slice(REMOVED_PREFIX.length));
        repaired = true;
        await rm(join(this.paths.runs, entry.name), { recursive: true, force: true });
      }
    }
    const runs: StoredRun[] = [];
    for (const entry of this.index.entries()) {
      if (!folders.delete(entry.id)) {
        // Its folder was removed: so is the run.
        this.index.remove(entry.id);
        repaired = true;
        problems.push(
          `run ${entry.id}: its folder ${this.paths.run(entry.id).dir} is gone; removed it from the index`,
        );
        continue;
      }
      const summary = this.index.summaryOf(entry);
      runs.push({ id: entry.id, entry, ...(summary && { summary }) });
    }
    // Folders the index lacks: a crash between writing a new run's document and the index.
    for (const id of folders) runs.push({ id });
    // The repairs are on disk before anyone is told what the list holds.
    if (repaired) await this.index.flush();
    return { runs, problems };
  }

  listIndex(): Promise<RunIndexEntry[]> {
    return Promise.resolve(this.index.entries());
  }

  async loadRun(runId: string): Promise<KeptRunDocument> {
    if (!SAFE_ID.test(runId)) throw this.notFound(runId);
    const files = this.runs.get(runId) ?? this.openRunFiles(runId);
    const doc = await readRunDocument(files.document);
    if (doc === null) throw new DamagedFileError(this.paths.run(runId).state, 'is missing');
    this.runs.set(runId, files);
    files.onDisk = { status: doc.status, lastEventId: doc.lastEventId };
    files.pacing.finished = FINISHED_RUN_STATUSES.has(doc.status);
    // A journal that ends before the last event the document reflects lost its end (or was moved
    // aside): the run goes on from the journal's last event, so its ids have no hole, and the loss is told.
    const journalLast = await files.events.lastId();
    if (journalLast < doc.lastEventId) {
      doc.damage ??= {
        file: files.events.filename,
        reason: `ends at event ${journalLast}, but state.json reflects events up to ${doc.lastEventId}; the run goes on from event ${journalLast + 1}`,
        at: isoAt(this.clock),
      };
      doc.lastEventId = journalLast;
    } else await this.noteLoaded(files, runId, doc.lastEventId, journalLast);
    this.index.add(doc);
    this.index.noteDocument(doc, () => doc.tasks);
    return doc;
  }

  /** The journal's bytes past the document's last event (estimated from its mean event size) pace the next write. */
  private async noteLoaded(
    files: RunFiles,
    runId: string,
    docLast: number,
    journalLast: number,
  ): Promise<void> {
    const run = this.paths.run(runId);
    const document = await stat(run.state);
    // A journal with events past the document is there to be measured.
    const journal = journalLast > docLast ? (await stat(run.events)).size : 0;
    files.pacing.loaded(
      document.size,
      Math.round((journal * (journalLast - docLast)) / Math.max(1, journalLast)),
    );
  }

  async probeRun(runId: string): Promise<DamagedFileError | undefined> {
    const file = this.paths.run(runId).state;
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return new DamagedFileError(file, 'is missing');
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size === 0) return new DamagedFileError(file, 'is empty');
      const head = `{"version":1,"id":${JSON.stringify(runId)},`;
      const start = Buffer.alloc(Math.min(size, head.length));
      await handle.read(start, 0, start.length, 0);
      const end = Buffer.alloc(Math.min(size, DOCUMENT_END.length));
      await handle.read(end, 0, end.length, size - end.length);
      if (start.toString('utf8') !== head)
        return new DamagedFileError(file, 'does not begin like a run document');
      if (end.toString('utf8') !== DOCUMENT_END)
        return new DamagedFileError(file, 'does not end like a whole run document');
      return undefined;
    } finally {
      await handle.close();
    }
  }

  stateFile(runId: string): string {
    return this.paths.run(runId).state;
  }

  async checkpointIds(runId: string): Promise<string[]> {
    if (!SAFE_ID.test(runId)) return [];
    let names: string[];
    try {
      names = await readdir(this.paths.run(runId).checkpoints);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    const ids = names.filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -5));
    const collator = new Intl.Collator('en', { numeric: true });
    return ids.filter((id) => SAFE_ID.test(id)).sort((a, b) => collator.compare(b, a));
  }

  async keepDamagedCopy(runId: string): Promise<string | undefined> {
    if (!SAFE_ID.test(runId)) throw this.notFound(runId);
    const { state } = this.paths.run(runId);
    const kept = `${state}.damaged-${isoAt(this.clock).replace(/[:.]/g, '')}`;
    try {
      await copyFile(state, kept, constants.COPYFILE_EXCL);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    await chmod(kept, 0o600);
    return kept;
  }

  async saveRebuilt(doc: KeptRunDocument): Promise<void> {
    let files = this.runs.get(doc.id);
    if (!files) {
      files = this.openRunFiles(doc.id);
      this.runs.set(doc.id, files);
    }
    files.list.take(doc.tasks);
    await this.writeDocument(files, doc);
    files.onDisk = { status: doc.status, lastEventId: doc.lastEventId };
    files.pacing.finished = FINISHED_RUN_STATUSES.has(doc.status);
    this.index.add(doc);
    this.index.noteDocument(doc, () => doc.tasks);
    await this.index.flush();
  }

  async writeCheckpoint(info: CheckpointInfo, doc: RunDocumentToWrite): Promise<void> {
    const files = this.files(info.runId); // throws for an unknown run
    if (!SAFE_ID.test(info.id)) {
      throw new OrcError(
        'STORE_ERROR',
        `checkpoint id "${info.id}" cannot name a file: use letters, digits, ".", "_", "-"`,
      );
    }
    const file = this.paths.run(info.runId).checkpoint(info.id);
    // Its own text cache, let go with it: the checkpoint of a 100,000-task plan would leave the JSON of
    // every waiting record cached for the run's life.
    const checkpoint = new RunDocumentFile(file, info.runId, new RunDocumentText(), {
      onWrite: this.countState,
      makeDir: true,
    }).open();
    checkpoint.data = doc;
    // Like the document, a checkpoint never reflects an event the journal does not hold.
    await files.events.waitDurable(doc.lastEventId);
    try {
      // Serialised as the write starts: the checkpoint is the state of this instant, whatever changes while it is written.
      await checkpoint.write();
    } catch (error) {
      this.failed(file, error, info.runId);
      throw error;
    }
  }

  async readCheckpoint(runId: string, checkpointId: string): Promise<RunDocument> {
    const notFound = new OrcError(
      'CHECKPOINT_NOT_FOUND',
      `checkpoint "${checkpointId}" of run ${runId} not found; \`orc show ${runId}\` lists its checkpoints`,
    );
    if (!SAFE_ID.test(runId) || !SAFE_ID.test(checkpointId)) throw notFound;
    const file = this.paths.run(runId).checkpoint(checkpointId);
    const doc = await readRunDocument(new RunDocumentFile(file, runId, new RunDocumentText()).open());
    if (doc === null) throw notFound;
    // A checkpoint is whole in itself (read without a segment): its tasks are all records.
    return { ...doc, tasks: doc.tasks.map(recordOfTask) };
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await Promise.all([...this.runs.values()].map((files) => files.events.close()));
    }
  }

  /** What this store has written since it was opened. */
  stats(): StoreStats {
    return { ...this.counts };
  }

  private async saveDocument(files: RunFiles): Promise<void> {
    // Begun once what asked for it has run on: a restored run asks as it starts, before it dispatches
    // again, and its first save lays out all its tasks (at 100,000, ~0.15 s of CPU before the dispatch).
    await Promise.resolve();
    const { tasks, ...doc } = files.snapshot!();
    // Taken as the save begins: the list is this instant's while the document is written.
    files.list.take(tasks);
    const { onDisk } = files;
    // A finished run loaded to be looked at is not rewritten: nothing an event would tell of changed.
    if (
      onDisk !== undefined &&
      FINISHED_RUN_STATUSES.has(doc.status) &&
      onDisk.status === doc.status &&
      onDisk.lastEventId === doc.lastEventId
    ) {
      return;
    }
    // The document is the journal folded up to its last event: it is written only once the journal
    // holds that event, so a crash never leaves a document ahead of its journal (a restore applies each
    // event past the document exactly once). Its task records are fixed in the list; what may change while
    // it waits (the checkpoint list, held tasks) is told by events a restore applies again harmlessly.
    await files.events.waitDurable(doc.lastEventId);
    await this.index.beforeDocument(doc);
    // Counted from now: asked for while this one is written, the next write waits for the journal to grow.
    files.pacing.writing();
    await this.writeDocument(files, doc);
    files.onDisk = { status: doc.status, lastEventId: doc.lastEventId };
    this.index.noteDocument(doc, () => files.list.all());
  }

  /**
   * Writes the document of `fields` and the tasks of the run's list. The tasks it names by id are in
   * the segment first (written and synced: a document never names a task the segment does not hold).
   * A finished run's document is whole, as scripts read it (the README's state directory), and once it
   * is written the segment goes.
   */
  private async writeDocument(files: RunFiles, fields: Omit<RunDocumentToWrite, 'tasks'>): Promise<void> {
    if (!FINISHED_RUN_STATUSES.has(fields.status)) {
      await files.segment.write(files.list.unwritten());
      files.list.offered();
    }
    const { ref } = files.segment;
    if (FINISHED_RUN_STATUSES.has(fields.status) || ref.bytes === 0) {
      files.document.data = { ...fields, tasks: files.list.all() };
      await files.document.write();
      await files.segment.remove();
      files.list.forgetSegment();
      return;
    }
    // Its tasks are the list's (RunDocumentFile renders them a block at a time).
    files.document.data = { ...fields, tasks: [], settled: ref };
    await files.document.write();
  }

  /** Tells the listeners a write failed (not one held back for the journal: that failure is told already). */
  private failed(file: string, error: unknown, runId?: string): void {
    if (error instanceof JournalBehindError) return;
    const failure = writeFailureOf(file, error, runId);
    for (const listener of this.failureListeners) listener(failure);
  }

  private openRunFiles(id: string): RunFiles {
    const run = this.paths.run(id);
    const text = new RunDocumentText();
    const segment = new SettledSegment(join(run.dir, SETTLED_FILE), SETTLED_FILE, this.countState);
    const list = new DocumentTaskList();
    const files: RunFiles = {
      document: new RunDocumentFile(
        run.state,
        id,
        text,
        {
          onWrite: (bytes) => {
            this.countState(bytes);
            files.pacing.written(bytes);
          },
        },
        segment,
        list,
      ).open(),
      text,
      segment,
      list,
      events: new EventLog(run.events, {
        onWrite: (bytes) => {
          this.countEvents(bytes);
          files.pacing.journalAppended(bytes);
        },
      }),
      pacing: new DocumentPacing(),
    };
    return files;
  }

  /** A run's journal to read, for a run that is not open (its document is damaged, or it is not loaded). */
  private journal(runId: string): EventLog {
    if (!SAFE_ID.test(runId)) throw this.notFound(runId);
    return new EventLog(this.paths.run(runId).events);
  }

  private files(runId: string): RunFiles {
    const files = this.runs.get(runId);
    if (!files) throw this.notFound(runId);
    return files;
  }

  private notFound(runId: string): OrcError {
    return new OrcError(
      'RUN_NOT_FOUND',
      `run "${runId}" not found in ${this.paths.runs}; \`orc ls\` lists the runs`,
    );
  }

  private readonly countState = (bytes: number): void => {
    this.counts.stateWrites++;
    this.counts.stateBytes += bytes;
  };

  private readonly countEvents = (bytes: number): void => {
    this.counts.eventWrites++;
    this.counts.eventBytes += bytes;
  };
}

/** How every document the store writes ends (see RunDocumentText): a cheap sign it was not cut short. */
const DOCUMENT_END = ']}\n';

const RUN_KEY = 'run:';
const runKey = (runId: string) => `${RUN_KEY}${runId}`;

/** What `probeWrite` writes: small, so asking whether a full disk takes writes again costs next to nothing. */
const PROBE_BYTES = Buffer.alloc(16 * 1024, 0x20);

async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // an existing one may have been created looser
}
