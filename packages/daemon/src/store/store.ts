import type { CheckpointInfo, OrcEvent } from '@orc/shared';
import type { RunDocument, RunIndexEntry } from './run-document.js';

/**
 * Everything a run persists, under one state directory (`runs/<id>/…`). Implementations must be safe
 * against a crash at any instant: a file is either the old or the new version, never torn.
 */
export interface RunStore {
  /** Writes a new run's document and index entry durably before resolving. */
  createRun(doc: RunDocument): Promise<void>;
  /**
   * Asks for the run's document to be written. Writes are coalesced: one in flight per run, and the next
   * one takes the latest document from `snapshot()` when it starts. Cheap to call on every change.
   */
  scheduleSave(runId: string, snapshot: () => RunDocument): void;
  /**
   * Tells the store that a task record changed, in the same turn as the change (the journal does, for
   * every event that names a task), so the next save serialises that record again and not the rest.
   */
  taskChanged(runId: string, taskId: string): void;
  /** Resolves once every scheduled save (of one run, or of all) is on disk. */
  flush(runId?: string): Promise<void>;
  /** Appends events to `events.jsonl`; resolves when they are durable (written and fsynced). */
  appendEvents(runId: string, events: readonly OrcEvent[]): Promise<void>;
  /** Events with id greater than `afterId`, in order, as written. */
  readEvents(runId: string, afterId: number): AsyncIterable<OrcEvent>;
  /** The highest event id in the run's journal (0 when empty). */
  lastEventId(runId: string): Promise<number>;
  /** Every run in the index with its document; a missing or unreadable document is reported, not fatal. */
  loadRuns(): Promise<{ runs: RunDocument[]; problems: string[] }>;
  listIndex(): Promise<RunIndexEntry[]>;
  /** Writes a copy of the document durably; serialises it before anything async, so later changes miss it. */
  writeCheckpoint(info: CheckpointInfo, doc: RunDocument): Promise<void>;
  readCheckpoint(runId: string, checkpointId: string): Promise<RunDocument>;
  /**
   * Deletes a run's files and its index entry for good. The caller makes sure nothing writes to the run
   * any more. Atomic against a crash: the run is either still there whole, or gone.
   */
  removeRun(runId: string): Promise<void>;
  /** Lets go of what a quiet run holds open (its journal's file); it is opened again when needed. */
  releaseRun?(runId: string): Promise<void>;
  close(): Promise<void>;
}
