import type { CheckpointInfo, NewEvent, ResolvedConfig } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import type { RunDocument, RunDocumentToWrite } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import type { MergeQueue } from './merge-queue.js';

/** Auto checkpoints are spaced so a run makes about this many at most: each copies the run document. */
const MAX_AUTO_CHECKPOINTS = 5;

export interface RunCheckpointsDeps {
  runId: string;
  store: RunStore;
  clock: Clock;
  logger: Logger;
  merges: MergeQueue;
  /** The run's document as it stands; its `checkpoints` and counter are kept here. */
  doc: RunDocument;
  config: () => ResolvedConfig;
  workspace: () => GitWorkspace | undefined;
  /** The whole run as it would be saved now (the persisted actor tree and every task). */
  toDocument: () => RunDocumentToWrite;
  tasksDone: () => number;
  taskTotal: () => number;
  lastEventId: () => number;
  emit: (event: NewEvent) => void;
  save: () => void;
}

/**
 * A run's checkpoints: copies of the whole run document (the run actor's persisted snapshot and every
 * task's record) under `runs/<id>/checkpoints/`, with the integration commit for repository runs. One is
 * made when the plan is in, then every `checkpoints.every_n_tasks` done tasks, spaced so a run of any
 * size makes about five (each one copies the run: spacing by N alone made a 10,000-task run quadratic).
 */
export class RunCheckpoints {
  /** Checkpoint files being written: a rollback to one waits for it. */
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly deps: RunCheckpointsDeps) {}

  list(): CheckpointInfo[] {
    return [...this.deps.doc.checkpoints];
  }

  has(id: string): boolean {
    return this.deps.doc.checkpoints.some((c) => c.id === id);
  }

  info(id: string): CheckpointInfo | undefined {
    return this.deps.doc.checkpoints.find((c) => c.id === id);
  }

  async create(reason: CheckpointInfo['reason'], label?: string): Promise<CheckpointInfo> {
    const { doc, clock, store } = this.deps;
    const workspace = this.deps.workspace();
    // The integration commit is read in the merge queue, so the state saved with it matches it.
    const commit = workspace ? await this.deps.merges.enqueue(() => workspace.head()) : undefined;
    const info: CheckpointInfo = {
      id: `cp${doc.checkpoints.length + 1}`,
      runId: this.deps.runId,
      ...(label !== undefined && { label }),
      createdAt: isoAt(clock),
      reason,
      tasksDone: this.deps.tasksDone(),
      lastEventId: this.deps.lastEventId(),
      ...(workspace && commit !== undefined && { files: { branch: workspace.branch, commit } }),
    };
    doc.checkpoints.push(info);
    doc.tasksDoneSinceCheckpoint = 0;
    // The store serialises the document before its first await: the state of this instant.
    const write = store.writeCheckpoint(info, this.deps.toDocument());
    this.writes.add(write);
    try {
      await write;
    } finally {
      this.writes.delete(write);
    }
    this.deps.emit({ type: 'checkpoint.created', checkpoint: info });
    this.deps.save();
    return info;
  }

  /** A checkpoint the run makes by itself; its failure is logged, never the run's. */
  async auto(reason: 'planned' | 'progress'): Promise<void> {
    if (this.deps.config().checkpoints.every_n_tasks === 0 && reason === 'progress') return;
    try {
      await this.create(reason);
    } catch (error) {
      this.deps.logger.error({ err: error, runId: this.deps.runId }, 'automatic checkpoint failed');
    }
  }

  /** A task is done: a progress checkpoint is due every so many. */
  taskDone(): void {
    const { doc } = this.deps;
    doc.tasksDoneSinceCheckpoint += 1;
    const every = this.deps.config().checkpoints.every_n_tasks;
    const spacing = Math.max(every, Math.ceil(this.deps.taskTotal() / MAX_AUTO_CHECKPOINTS));
    if (every > 0 && doc.tasksDoneSinceCheckpoint >= spacing) void this.auto('progress');
  }

  /** Resolves once every checkpoint being written is on disk (or failed). */
  async written(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  read(id: string): Promise<RunDocument> {
    return this.deps.store.readCheckpoint(this.deps.runId, id);
  }
}
