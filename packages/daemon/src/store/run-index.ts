import { readFileSync } from 'node:fs';
import { FINISHED_RUN_STATUSES, summaryGoal, type RunSummary } from '@orc/shared';
import { Low } from 'lowdb';
import * as z from 'zod';
import type { CoalescingWriter } from './coalescing-writer.js';
import { DurableJsonFile } from './durable-json-file.js';
import { RunIndexEntry, type RunDocumentToWrite } from './run-document.js';
import { summarizeRun } from './run-summary.js';

/** `runs/index.json`. */
const RunIndexFile = z.object({ version: z.literal(1), runs: z.array(RunIndexEntry) });
type RunIndexFile = z.infer<typeof RunIndexFile>;

const KEY = 'index';

/**
 * The runs an index file does not call finished, read without the store (orc gc, with no daemon to ask);
 * none when there is no index yet, undefined when it cannot be read.
 */
export function unfinishedRunsIn(file: string): Set<string> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new Set() : undefined;
  }
  const index = RunIndexFile.safeParse(raw);
  if (!index.success) return undefined;
  return new Set(
    index.data.runs.filter((run) => !FINISHED_RUN_STATUSES.has(run.status)).map((run) => run.id),
  );
}

/**
 * The index of runs (lowdb over a durable file): each run's id, goal, status and creation, and a
 * finished run's whole summary. It is written through the store's coalescing writer, after the document
 * whose status it follows, with one exception that keeps a rule the daemon's start relies on: the index
 * says a run is finished only when its document does (a finished run is not loaded on start), so a
 * document leaving a finished status waits for the index to say so first.
 */
export class RunIndex {
  private readonly db: Low<RunIndexFile>;
  private readonly byId = new Map<string, RunIndexEntry>();

  constructor(
    file: string,
    private readonly writer: CoalescingWriter,
    onWrite: (bytes: number) => void,
  ) {
    this.db = new Low(new DurableJsonFile<RunIndexFile>(file, { space: 2, onWrite }), {
      version: 1,
      runs: [],
    });
  }

  /** Reads the file; resolves with what is wrong with it when it is unreadable (it is then rebuilt). */
  async read(): Promise<string | undefined> {
    try {
      const raw = await this.db.adapter.read();
      if (raw !== null) this.db.data = RunIndexFile.parse(raw);
    } catch (error) {
      return `${(this.db.adapter as DurableJsonFile<RunIndexFile>).filename} is unreadable (${error instanceof Error ? error.message : String(error)}); rebuilt it from the run folders`;
    } finally {
      this.byId.clear();
      for (const entry of this.db.data.runs) this.byId.set(entry.id, entry);
    }
    return undefined;
  }

  entries(): RunIndexEntry[] {
    return this.db.data.runs.map((entry) => ({ ...entry }));
  }

  has(runId: string): boolean {
    return this.byId.has(runId);
  }

  /** A finished run's summary as the index keeps it, or undefined. */
  summaryOf(entry: RunIndexEntry): RunSummary | undefined {
    if (!entry.summary || !FINISHED_RUN_STATUSES.has(entry.status)) return undefined;
    return {
      id: entry.id,
      goal: entry.goal,
      status: entry.status,
      createdAt: entry.createdAt,
      ...entry.summary,
    };
  }

  /** Adds the run when the index lacks it (a new run, or a folder a crash left out of the index). */
  add(doc: RunDocumentToWrite): void {
    if (this.byId.has(doc.id)) return;
    const entry: RunIndexEntry = {
      id: doc.id,
      // A list of runs never ships whole goals (a 10 MB goal was 10 MB on every runs.list).
      goal: summaryGoal(doc.goal),
      status: doc.status,
      createdAt: doc.createdAt,
      ...(doc.source && { source: doc.source }),
    };
    this.db.data.runs.push(entry);
    this.byId.set(doc.id, entry);
    this.noteDocument(doc, () => doc.tasks);
    this.schedule();
  }

  remove(runId: string): void {
    if (!this.byId.delete(runId)) return;
    this.db.data.runs = this.db.data.runs.filter((entry) => entry.id !== runId);
    this.schedule();
  }

  /** Before a document is written: a run leaving a finished status is first said so here, on disk. */
  async beforeDocument(doc: Pick<RunDocumentToWrite, 'id' | 'status'>): Promise<void> {
    const entry = this.byId.get(doc.id);
    if (!entry || !FINISHED_RUN_STATUSES.has(entry.status) || FINISHED_RUN_STATUSES.has(doc.status)) return;
    entry.status = doc.status;
    delete entry.summary;
    this.schedule();
    await this.flush();
  }

  /**
   * After a document is written: the entry follows its status, and a finished run's summary (of
   * `tasks`, asked for only then).
   */
  noteDocument(doc: Omit<RunDocumentToWrite, 'tasks'>, tasks: () => RunDocumentToWrite['tasks']): void {
    const entry = this.byId.get(doc.id);
    if (!entry) return;
    const finished = FINISHED_RUN_STATUSES.has(doc.status);
    let changed = entry.status !== doc.status || (doc.source !== undefined && entry.source === undefined);
    entry.status = doc.status;
    if (doc.source) entry.source = doc.source;
    if (finished) {
      const {
        id: _id,
        goal: _goal,
        status: _status,
        createdAt: _createdAt,
        ...rest
      } = summarizeRun({ ...doc, tasks: tasks() });
      if (JSON.stringify(rest) !== JSON.stringify(entry.summary)) {
        entry.summary = rest;
        changed = true;
      }
    } else if (entry.summary !== undefined) {
      delete entry.summary;
      changed = true;
    }
    if (changed) this.schedule();
  }

  flush(): Promise<void> {
    return this.writer.flush(KEY);
  }

  private schedule(): void {
    this.writer.schedule(KEY, () => this.db.write());
  }
}
