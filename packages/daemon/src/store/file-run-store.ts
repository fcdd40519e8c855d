import { chmod, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  OrcError,
  statePaths,
  summaryGoal,
  type CheckpointInfo,
  type OrcEvent,
  type RunStatus,
  type StatePaths,
} from '@orc/shared';
import { Low } from 'lowdb';
import * as z from 'zod';
import { CoalescingWriter, type CoalescingWriterOptions } from './coalescing-writer.js';
import { DurableJsonFile, fsyncDir, writeFileDurably } from './durable-json-file.js';
import { EventLog } from './event-log.js';
import { RunDocument, RunIndexEntry, parseStoredRunDocument } from './run-document.js';
import { RunDocumentText } from './run-document-text.js';
import type { RunStore } from './store.js';

/** `runs/index.json`. */
const RunIndex = z.object({ version: z.literal(1), runs: z.array(RunIndexEntry) });
type RunIndex = z.infer<typeof RunIndex>;

/** Run and checkpoint ids become path segments: nothing that could climb out of the state directory. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const INDEX_KEY = 'index';
/** A removed run's folder is renamed to this first; the leading dot keeps it from ever loading again. */
const REMOVED_PREFIX = '.removed-';

export type FileRunStoreOptions = CoalescingWriterOptions;

export interface StoreStats {
  stateWrites: number;
  stateBytes: number;
  eventWrites: number;
  eventBytes: number;
}

interface RunFiles {
  state: string;
  /** The document's text, re-serialised only where tasks changed. */
  text: RunDocumentText;
  events: EventLog;
}

/** Opens (creating it, mode 0700) the state directory's run store. */
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
 * text cached per task), an index of runs (lowdb), an append-only event journal per run, and checkpoints
 * as copies of the document.
 */
export class FileRunStore implements RunStore {
  private readonly counts: StoreStats = { stateWrites: 0, stateBytes: 0, eventWrites: 0, eventBytes: 0 };
  private readonly writer: CoalescingWriter;
  private readonly index: Low<RunIndex>;
  private readonly runs = new Map<string, RunFiles>();
  private indexProblem: string | undefined;

  constructor(
    private readonly paths: StatePaths,
    options: FileRunStoreOptions = {},
  ) {
    this.writer = new CoalescingWriter(options);
    this.index = new Low(new DurableJsonFile<RunIndex>(paths.index, { space: 2, onWrite: this.countState }), {
      version: 1,
      runs: [],
    });
  }

  /** Reads `runs/index.json`; an unreadable one is reported by `loadRuns`, which rebuilds it. */
  async readIndex(): Promise<void> {
    try {
      const raw = await this.index.adapter.read();
      if (raw !== null) this.index.data = RunIndex.parse(raw);
    } catch (error) {
      this.indexProblem = `${this.paths.index} is unreadable (${messageOf(error)}); rebuilt it from the run folders`;
    }
  }

  async createRun(doc: RunDocument): Promise<void> {
    if (!SAFE_ID.test(doc.id)) {
      throw new OrcError(
        'STORE_ERROR',
        `run id "${doc.id}" cannot name a folder: use letters, digits, ".", "_", "-"`,
      );
    }
    if (this.runs.has(doc.id) || this.indexEntry(doc.id)) {
      throw new OrcError('STORE_ERROR', `run ${doc.id} already exists in ${this.paths.runs}`);
    }
    await makePrivateDir(this.paths.run(doc.id).dir);
    this.runs.set(doc.id, this.openRunFiles(doc.id));
    this.scheduleSave(doc.id, () => doc);
    await this.writer.flush(runKey(doc.id));
    this.index.data.runs.push({
      id: doc.id,
      goal: summaryGoal(doc.goal),
      status: doc.status,
      createdAt: doc.createdAt,
    });
    this.scheduleIndexWrite();
    await this.writer.flush(INDEX_KEY);
  }

  scheduleSave(runId: string, snapshot: () => RunDocument): void {
    const files = this.files(runId);
    this.writer.schedule(runKey(runId), async () => {
      const doc = snapshot();
      await this.writeDocument(files.state, files.text.render(doc));
      this.noteStatus(runId, doc.status);
    });
  }

  taskChanged(runId: string, taskId: string): void {
    this.runs.get(runId)?.text.taskChanged(taskId);
  }

  async flush(runId?: string): Promise<void> {
    await this.writer.flush(runId === undefined ? undefined : runKey(runId));
    // A document write may have just asked for an index write (its status changed).
    await this.writer.flush(INDEX_KEY);
  }

  async releaseRun(runId: string): Promise<void> {
    await this.runs.get(runId)?.events.release();
  }

  appendEvents(runId: string, events: readonly OrcEvent[]): Promise<void> {
    return this.files(runId).events.append(events);
  }

  readEvents(runId: string, afterId: number): AsyncIterable<OrcEvent> {
    return this.files(runId).events.read(afterId);
  }

  lastEventId(runId: string): Promise<number> {
    return this.files(runId).events.lastId();
  }

  async loadRuns(): Promise<{ runs: RunDocument[]; problems: string[] }> {
    const problems = this.indexProblem ? [this.indexProblem] : [];
    this.indexProblem = undefined;
    // The index, plus any run folder it lacks (a crash between writing a document and the index).
    const ids = new Set(this.index.data.runs.map((entry) => entry.id));
    const removed: string[] = [];
    for (const entry of await readdir(this.paths.runs, { withFileTypes: true })) {
      if (entry.isDirectory() && SAFE_ID.test(entry.name)) ids.add(entry.name);
      if (entry.isDirectory() && entry.name.startsWith(REMOVED_PREFIX)) removed.push(entry.name);
    }
    // A removal the daemon did not finish: the run is gone, its index entry and files go now.
    for (const name of removed) {
      this.dropIndexEntry(name.slice(REMOVED_PREFIX.length));
      ids.delete(name.slice(REMOVED_PREFIX.length));
      await rm(join(this.paths.runs, name), { recursive: true, force: true });
    }
    const loaded = await Promise.all([...ids].map((id) => this.loadRun(id)));
    const runs: RunDocument[] = [];
    for (const result of loaded) {
      if (typeof result === 'string') problems.push(result);
      else runs.push(result);
    }
    await this.writer.flush(INDEX_KEY);
    return { runs, problems };
  }

  async removeRun(runId: string): Promise<void> {
    const files = this.files(runId); // throws for an unknown run
    await this.writer.flush(runKey(runId));
    await files.events.close();
    this.runs.delete(runId);
    // Renamed first (one atomic step): a crash after it leaves a run that no longer loads, cleared on open.
    const trash = join(this.paths.runs, `${REMOVED_PREFIX}${runId}`);
    await rename(this.paths.run(runId).dir, trash);
    await fsyncDir(this.paths.runs);
    this.dropIndexEntry(runId);
    await this.writer.flush(INDEX_KEY);
    await rm(trash, { recursive: true, force: true });
  }

  listIndex(): Promise<RunIndexEntry[]> {
    return Promise.resolve(this.index.data.runs.map((entry) => ({ ...entry })));
  }

  async writeCheckpoint(info: CheckpointInfo, doc: RunDocument): Promise<void> {
    const files = this.files(info.runId); // throws for an unknown run
    if (!SAFE_ID.test(info.id)) {
      throw new OrcError(
        'STORE_ERROR',
        `checkpoint id "${info.id}" cannot name a file: use letters, digits, ".", "_", "-"`,
      );
    }
    // Serialised at once: the checkpoint is the state of this instant, whatever changes while it is written.
    const text = files.text.render(doc);
    const run = this.paths.run(info.runId);
    if (await mkdir(run.checkpoints, { recursive: true, mode: 0o700 })) await fsyncDir(run.dir);
    await this.writeDocument(run.checkpoint(info.id), text);
  }

  async readCheckpoint(runId: string, checkpointId: string): Promise<RunDocument> {
    const notFound = new OrcError(
      'CHECKPOINT_NOT_FOUND',
      `checkpoint ${checkpointId} of run ${runId} not found; \`orc show ${runId}\` lists its checkpoints`,
    );
    if (!SAFE_ID.test(runId) || !SAFE_ID.test(checkpointId)) throw notFound;
    const file = this.paths.run(runId).checkpoint(checkpointId);
    const raw = await new DurableJsonFile<unknown>(file).read();
    if (raw === null) throw notFound;
    const parsed = RunDocument.safeParse(raw);
    if (!parsed.success) {
      throw new OrcError('STORE_ERROR', `${file} is not a valid run document (${issuesOf(parsed.error)})`);
    }
    return parsed.data;
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

  private async loadRun(id: string): Promise<RunDocument | string> {
    const file = this.paths.run(id).state;
    let raw: unknown;
    try {
      raw = await new DurableJsonFile<unknown>(file).read();
    } catch (error) {
      return `run ${id}: ${messageOf(error)}`;
    }
    if (raw === null) {
      return `run ${id}: ${file} is missing; restore it from a checkpoint or remove the run's folder`;
    }
    const parsed = parseStoredRunDocument(raw);
    if (!parsed.success) {
      return `run ${id}: ${file} is not a valid run document (${issuesOf(parsed.error)}); restore it from a checkpoint`;
    }
    const doc = parsed.data;
    if (doc.id !== id) return `run ${id}: ${file} holds run ${doc.id}; move it back to its own folder`;
    if (!this.runs.has(id)) this.runs.set(id, this.openRunFiles(id));
    if (!this.indexEntry(id)) {
      this.index.data.runs.push({
        id,
        goal: summaryGoal(doc.goal),
        status: doc.status,
        createdAt: doc.createdAt,
      });
      this.scheduleIndexWrite();
    }
    this.noteStatus(id, doc.status);
    return doc;
  }

  private openRunFiles(id: string): RunFiles {
    const run = this.paths.run(id);
    return {
      state: run.state,
      text: new RunDocumentText(),
      events: new EventLog(run.events, { onWrite: this.countEvents }),
    };
  }

  private async writeDocument(filename: string, pieces: readonly string[]): Promise<void> {
    this.countState(await writeFileDurably(filename, pieces));
  }

  private files(runId: string): RunFiles {
    const files = this.runs.get(runId);
    if (!files) {
      throw new OrcError(
        'RUN_NOT_FOUND',
        `run ${runId} not found in ${this.paths.runs}; \`orc ls\` lists the runs`,
      );
    }
    return files;
  }

  private indexEntry(runId: string): RunIndexEntry | undefined {
    return this.index.data.runs.find((entry) => entry.id === runId);
  }

  /** Keeps the index's status in step with the document's, so listing runs needs no document. */
  private noteStatus(runId: string, status: RunStatus): void {
    const entry = this.indexEntry(runId);
    if (!entry || entry.status === status) return;
    entry.status = status;
    this.scheduleIndexWrite();
  }

  private dropIndexEntry(runId: string): void {
    const runs = this.index.data.runs.filter((entry) => entry.id !== runId);
    if (runs.length === this.index.data.runs.length) return;
    this.index.data.runs = runs;
    this.scheduleIndexWrite();
  }

  private scheduleIndexWrite(): void {
    this.writer.schedule(INDEX_KEY, () => this.index.write());
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

const runKey = (runId: string) => `run:${runId}`;

async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // an existing one may have been created looser
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function issuesOf(error: z.ZodError): string {
  const shown = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : '';
  return shown.join('; ') + more;
}
