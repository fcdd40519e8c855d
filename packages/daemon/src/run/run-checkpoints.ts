import { OrcError, type CheckpointInfo, type NewEvent, type ResolvedConfig } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import type { RunDocument, RunDocumentToWrite } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import type { MergeQueue } from './merge-queue.js';

/** The number of checkpoint `cpN`. */
const numberOf = (id: string) => Number(id.slice(2));
/** The shape of a checkpoint's id: `cp` and its number. */
const CHECKPOINT_ID = /^cp\d+$/;

/** The checkpoints an unknown one's error lists, the latest. */
const LISTED_CHECKPOINTS = 10;

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
  /** Checkpoints being written, by id: listed once their `checkpoint.created` is journalled. */
  private readonly writing = new Map<string, { info: CheckpointInfo; write: Promise<void> }>();
  /** Checkpoints made or being made, for the next one's number. */
  private made: number;

  constructor(private readonly deps: RunCheckpointsDeps) {
    this.made = deps.doc.checkpoints.length;
  }

  /** The checkpoints, those being written included (a rollback to one waits for it). */
  list(): CheckpointInfo[] {
    const all = [...this.deps.doc.checkpoints, ...[...this.writing.values()].map((each) => each.info)];
    return all.sort((a, b) => numberOf(a.id) - numberOf(b.id));
  }

  /** Whether the checkpoint exists, or is being written (a rollback to it waits for it). */
  has(id: string): boolean {
    return this.info(id) !== undefined;
  }

  /**
   * The id of the checkpoint `ref` names: its id, or its label. An unknown one is refused in one line that
   * lists the checkpoints (with their labels), one label that several carry with their ids.
   */
  resolve(ref: string): string {
    if (this.has(ref)) return ref;
    const list = this.list();
    const labelled = list.filter((checkpoint) => checkpoint.label === ref);
    if (labelled.length === 1) return labelled[0]!.id;
    const { runId } = this.deps;
    if (labelled.length > 1) {
      throw new OrcError(
        'INVALID_STATE',
        `run ${runId} has ${labelled.length} checkpoints labelled "${ref}" (${labelled.map((c) => c.id).join(', ')}); give its id`,
      );
    }
    const shown = list.slice(-LISTED_CHECKPOINTS).map((c) => (c.label ? `${c.id} "${c.label}"` : c.id));
    const more = list.length > LISTED_CHECKPOINTS ? `…, ` : '';
    throw new OrcError(
      'CHECKPOINT_NOT_FOUND',
      list.length === 0
        ? `run ${runId} has no checkpoints to roll back to; orc checkpoint ${runId} makes one`
        : `run ${runId} has no checkpoint "${ref}"; its checkpoints: ${more}${shown.join(', ')}`,
    );
  }

  info(id: string): CheckpointInfo | undefined {
    return this.deps.doc.checkpoints.find((c) => c.id === id) ?? this.writing.get(id)?.info;
  }

  /**
   * Writes a copy of the run as it is now. The file is written first (atomically), then the
   * `checkpoint.created` event: a checkpoint exists once that event is in the journal, so a crash in
   * between leaves no checkpoint anyone lists (a file no one names, overwritten by the next one).
   */
  async create(reason: CheckpointInfo['reason'], label?: string): Promise<CheckpointInfo> {
    const { doc, clock, store } = this.deps;
    // `orc rollback <ref>` takes an id before a label: a label shaped like an id could name another one.
    if (label !== undefined && CHECKPOINT_ID.test(label))
      throw new OrcError(
        'INVALID_STATE',
        `a checkpoint's label cannot look like a checkpoint id ("${label}"): orc rollback ${this.deps.runId} ${label} would mean checkpoint ${label}; choose another label`,
      );
    // A person's label names one checkpoint: a second one would make `orc rollback <label>` ask for an id.
    const taken = reason === 'manual' ? this.list().find((c) => c.label === label) : undefined;
    if (label !== undefined && taken !== undefined)
      throw new OrcError(
        'INVALID_STATE',
        `run ${this.deps.runId} has a checkpoint labelled "${label}" already (${taken.id}); choose another label`,
      );
    const workspace = this.deps.workspace();
    const id = `cp${++this.made}`;
    // The integration commit is read in the merge queue, so the state saved with it matches it.
    const commit = workspace ? await this.deps.merges.enqueue(() => workspace.head()) : undefined;
    const info: CheckpointInfo = {
      id,
      runId: this.deps.runId,
      ...(label !== undefined && { label }),
      createdAt: isoAt(clock),
      reason,
      tasksDone: this.deps.tasksDone(),
      lastEventId: this.deps.lastEventId(),
      ...(workspace && commit !== undefined && { files: { branch: workspace.branch, commit } }),
    };
    doc.tasksDoneSinceCheckpoint = 0;
    // The store serialises the document before its first await: the state of this instant.
    const write = store.writeCheckpoint(info, this.deps.toDocument());
    this.writing.set(id, { info, write });
    try {
      await write;
    } finally {
      this.writing.delete(id);
    }
    // In order of their numbers, whichever finished writing first.
    doc.checkpoints.push(info);
    doc.checkpoints.sort((a, b) => numberOf(a.id) - numberOf(b.id));
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
    await Promise.allSettled([...this.writing.values()].map((each) => each.write));
  }

  /** The checkpoint's copy of the run; one being written is waited for. */
  async read(id: string): Promise<RunDocument> {
    await this.writing.get(id)?.write;
    return this.deps.store.readCheckpoint(this.deps.runId, id);
  }
}
