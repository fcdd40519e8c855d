import type { CheckpointInfo, OrcEvent, RunSummary } from '@orc/shared';
import type { DamagedFileError } from './damaged-file-error.js';
import type {
  KeptRunDocument,
  RunDocument,
  RunDocumentToSave,
  RunDocumentToWrite,
  RunIndexEntry,
} from './run-document.js';
import type { WriteFailure } from './write-failure.js';

/** A run the state directory holds, as the index knows it (a finished run with its summary). */
export interface StoredRun {
  id: string;
  /** Absent for a run folder the index lacks. */
  entry?: RunIndexEntry;
  /** A finished run's summary from the index: it can be listed without loading it. */
  summary?: RunSummary;
}

/**
 * Everything a run persists, under one state directory (`runs/<id>/…`). Implementations must be safe
 * against a crash at any instant: a file is either the old or the new version, never torn. A run is open
 * (written to, its document's text cached) from `createRun` or `loadRun` until `unloadRun`.
 */
export interface RunStore {
  /** Writes a new run's document and index entry durably before resolving. */
  createRun(doc: RunDocument): Promise<void>;
  /**
   * Asks for the run's document to be written. Writes are coalesced: one in flight per run, and the next
   * one takes the latest document from `snapshot()` when it starts. Cheap to call on every change. A
   * document is written only once the journal holds every event it reflects (its `lastEventId`). Each
   * snapshot taken hands over the tasks changed since the one before (or all of them): a save costs the
   * tasks that changed.
   */
  scheduleSave(runId: string, snapshot: () => RunDocumentToSave): void;
  /**
   * Tells the store that a task record changed, in the same turn as the change (the journal does, for
   * every event that names a task), so the next save serialises that record again and not the rest.
   */
  taskChanged(runId: string, taskId: string): void;
  /** Resolves once every scheduled save (of one run, or of all) is on disk. */
  flush(runId?: string): Promise<void>;
  /**
   * Appends events to `events.jsonl`; resolves when they are durable (written and fsynced). `lines`:
   * the events' JSON, when the caller made it (the journal keeps it for its subscribers).
   */
  appendEvents(runId: string, events: readonly OrcEvent[], lines?: readonly string[]): Promise<void>;
  /**
   * Events with id greater than `afterId`, in order, as written; any run's, open or not. A hole in the
   * ids or a damaged line ends the iteration with a DamagedFileError.
   */
  readEvents(runId: string, afterId: number): AsyncIterable<OrcEvent>;
  /** The last event in the run's journal, with the highest id and when it happened (none when empty). */
  lastEvent(runId: string): Promise<OrcEvent | undefined>;
  /** Damage the last read of an open run's journal found before the events it asked for. */
  journalDamage(runId: string): DamagedFileError | undefined;
  /** Every run the state directory holds; an unreadable index or a vanished folder is reported. */
  listRuns(): Promise<{ runs: StoredRun[]; problems: string[] }>;
  listIndex(): Promise<RunIndexEntry[]>;
  /**
   * Reads and opens a run, its settled tasks as their text (from the settled segment: see
   * SettledSegment); a document that cannot be used, or a journal whose last line cannot be read,
   * throws a DamagedFileError. A journal that ends before the document's last event is recorded as the
   * document's damage, and the document goes on from the journal's last event.
   */
  loadRun(runId: string): Promise<KeptRunDocument>;
  /** A look at the first and last bytes of `state.json`: what is surely wrong with it, or undefined. */
  probeRun(runId: string): Promise<DamagedFileError | undefined>;
  /** The run's checkpoint ids, newest first. */
  checkpointIds(runId: string): Promise<string[]>;
  /** Copies a damaged `state.json` beside it (`state.json.damaged-<time>`); its path, or undefined if none. */
  keepDamagedCopy(runId: string): Promise<string | undefined>;
  /** Writes a document rebuilt for a run whose `state.json` was damaged, and opens the run. */
  saveRebuilt(doc: KeptRunDocument): Promise<void>;
  /** Where the run's document is (`runs/<id>/state.json`), to name it. */
  stateFile(runId: string): string;
  /** Writes what is scheduled for the run, then lets go of it: `loadRun` opens it again. */
  unloadRun(runId: string): Promise<void>;
  /** Writes a copy of the document durably; serialises it before anything async, so later changes miss it. */
  writeCheckpoint(info: CheckpointInfo, doc: RunDocumentToWrite): Promise<void>;
  readCheckpoint(runId: string, checkpointId: string): Promise<RunDocument>;
  /**
   * Deletes a run's files and its index entry for good. The caller makes sure nothing writes to the run
   * any more. Atomic against a crash: the run is either still there whole, or gone.
   */
  removeRun(runId: string): Promise<void>;
  /** Lets go of what a quiet run holds open (its journal's file); it is opened again when needed. */
  releaseRun?(runId: string): Promise<void>;
  /**
   * `listener` hears of every write that fails (an append, a document, a checkpoint, the index), as it
   * fails: a full or broken disk stops every run. Returns the unsubscribe.
   */
  onWriteFailure(listener: (failure: WriteFailure) => void): () => void;
  /**
   * Writes and removes a small file in the run's folder: a cheap first question to a disk that failed
   * whether it takes writes again. Rejects as the write does; a failure here is not told to listeners.
   */
  probeWrite(runId: string): Promise<void>;
  close(): Promise<void>;
}
