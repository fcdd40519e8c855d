import {
  ZERO_USAGE,
  RunFold,
  SETTLED_STATUSES,
  type OrcEvent,
  type PauseReason,
  type RunStatus,
} from '@orc/shared';
import { runMachine, type RunContext } from '../actors/run.machine.js';
import type { RunDocument } from '../store/run-document.js';
import { applyRollback } from './apply-rollback.js';

/** The journal cannot rebuild the run: why. */
export class RebuildImpossible extends Error {
  override readonly name = 'RebuildImpossible';
}

export interface RebuildSource {
  /** A copy of the document to start from (the saved one, a checkpoint), or undefined to start from `run.created`. */
  base: RunDocument | undefined;
  /** The journal's events after the base's last one (all of them without a base), in order. */
  events: AsyncIterable<OrcEvent>;
  /** A checkpoint the journal rolls back to (read only for rollbacks from before events carried their records). */
  readCheckpoint: (checkpointId: string) => Promise<RunDocument>;
}

export interface RebuildOptions {
  /**
   * Keep the base's run snapshot unless the events moved the run itself (another status or pause, a
   * plan, a rollback done): a run caught up after a crash goes on in the state it was saved in, a
   * rollback cut short included. Without it the snapshot is always made for the status the journal
   * ends in (a rebuild from a checkpoint or from nothing).
   */
  keepSnapshot?: boolean;
}

/**
 * A run's document folded forward with the journal's events after it, by the fold clients keep their
 * view with (RunFold), so the daemon and its clients read the journal alike. It restores a run whose
 * document lags its journal (the daemon died before its last save) and rebuilds one whose `state.json` is
 * lost or damaged, from a checkpoint or from `run.created` alone. Every event that changes the document
 * is applied; the damage a run was once rebuilt from is not an event, and is not recovered.
 */
export async function rebuildRunDocument(
  runId: string,
  source: RebuildSource,
  options: RebuildOptions = {},
): Promise<RunDocument> {
  let fold = source.base ? new DocumentFold(source.base) : undefined;
  for await (const event of source.events) {
    if (!fold) {
      fold = DocumentFold.fromCreated(runId, event);
      continue;
    }
    await fold.apply(event, source.readCheckpoint);
  }
  if (!fold) throw new RebuildImpossible('the journal has no event');
  return fold.finish(options.keepSnapshot === true && source.base !== undefined);
}

/** The document a run starts with, as its `run.created` event records it (throws RebuildImpossible). */
export function documentFromCreated(runId: string, event: OrcEvent): RunDocument {
  return DocumentFold.fromCreated(runId, event).finish(false);
}

class DocumentFold {
  private readonly fold: RunFold<RunDocument>;
  /** Why the run last paused: resuming a budget pause without a new budget lifts the budget. */
  private lastPause: PauseReason | undefined;
  private budgetSetSincePause = false;
  /** The status and pause the base's snapshot stands for; the events may move the run from them. */
  private readonly from: { status: RunStatus; pauseReason: PauseReason | undefined };
  /** A plan or a finished rollback past the base: its snapshot no longer holds. */
  private replanned = false;

  constructor(doc: RunDocument) {
    this.fold = new RunFold(doc);
    this.lastPause = doc.pauseReason;
    this.from = { status: doc.status, pauseReason: doc.pauseReason };
  }

  private get doc(): RunDocument {
    return this.fold.run;
  }

  static fromCreated(runId: string, event: OrcEvent): DocumentFold {
    if (event.type !== 'run.created') {
      throw new RebuildImpossible(`the journal starts with ${event.type}, not run.created`);
    }
    const { setup } = event;
    if (!setup) {
      throw new RebuildImpossible(
        "its run.created event has no setup (a journal written before runs recorded it), so the run's configuration is unknown",
      );
    }
    return new DocumentFold({
      version: 1,
      id: runId,
      goal: event.goal,
      status: 'analyzing',
      models: event.models,
      config: setup.config,
      createdAt: event.at,
      updatedAt: event.at,
      tasks: [],
      importedTasks: setup.importedTasks,
      heldTasks: setup.heldTasks ?? {},
      ...(setup.source && { source: setup.source }),
      ...(setup.workspace && { workspace: setup.workspace }),
      usage: ZERO_USAGE,
      costUsd: 0,
      lastEventId: event.id,
      checkpoints: [],
      tasksDoneSinceCheckpoint: 0,
    });
  }

  async apply(event: OrcEvent, readCheckpoint: RebuildSource['readCheckpoint']): Promise<void> {
    if (event.type === 'run.rolled_back' && event.tasks === undefined) {
      // Written before rollbacks carried their records: the records come from the checkpoint.
      event = await this.withCheckpointRecords(event, readCheckpoint);
    }
    const before = 'taskId' in event ? this.fold.task(event.taskId) : undefined;
    this.fold.apply(event);
    const { doc } = this;
    switch (event.type) {
      case 'run.planned':
        this.replanned = true;
        return;
      case 'run.rolled_back':
        this.replanned = true;
        doc.tasksDoneSinceCheckpoint = 0;
        return;
      case 'run.paused':
        this.lastPause = event.reason;
        this.budgetSetSincePause = false;
        return;
      case 'run.budget_set': {
        const execution = (doc.config['execution'] ?? {}) as Record<string, unknown>;
        doc.config = { ...doc.config, execution: { ...execution, max_cost_usd: event.limitUsd } };
        doc.budgetLifted = false;
        this.budgetSetSincePause = true;
        return;
      }
      case 'run.resumed':
        if (this.lastPause === 'budget' && !this.budgetSetSincePause) doc.budgetLifted = true;
        return;
      case 'checkpoint.created':
        if (!doc.checkpoints.some((c) => c.id === event.checkpoint.id))
          doc.checkpoints.push(event.checkpoint);
        doc.tasksDoneSinceCheckpoint = 0;
        return;
      case 'task.completed':
        doc.tasksDoneSinceCheckpoint += 1;
        return;
      case 'task.status':
        // Held at its source until a person retries it.
        if (event.status === 'blocked' && event.held === true && event.reason !== undefined)
          (doc.heldTasks ??= {})[event.taskId] = event.reason;
        if (event.status === 'pending' && before !== undefined && SETTLED_STATUSES.has(before.status))
          delete doc.heldTasks?.[event.taskId];
        return;
      default:
        return;
    }
  }

  finish(keepSnapshot: boolean): RunDocument {
    const { doc } = this;
    const moved =
      this.replanned ||
      doc.status !== this.from.status ||
      (doc.status === 'paused' && doc.pauseReason !== this.from.pauseReason);
    if (keepSnapshot && !moved) return doc;
    // A final review cut off is written again: the run goes back to executing, finds every task
    // settled, and reviews. A run still planning plans afresh (its snapshot is left out).
    const status: RunStatus = doc.status === 'reviewing' ? 'executing' : doc.status;
    doc.status = status;
    if (status !== 'paused') {
      delete doc.pauseReason;
      delete doc.resumeAt;
    }
    doc.runSnapshot = status === 'analyzing' ? undefined : this.snapshot(status);
    return doc;
  }

  /** An older journal's rollback with the records it gave, worked out again from its checkpoint. */
  private async withCheckpointRecords(
    event: Extract<OrcEvent, { type: 'run.rolled_back' }>,
    readCheckpoint: RebuildSource['readCheckpoint'],
  ): Promise<Extract<OrcEvent, { type: 'run.rolled_back' }>> {
    let saved: RunDocument;
    try {
      saved = await readCheckpoint(event.checkpointId);
    } catch (error) {
      throw new RebuildImpossible(
        `the journal rolls back to checkpoint ${event.checkpointId} (event ${event.id}), which cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const named = event.strategy === 'selective' ? event.resetTasks : [];
    const { tasks } = applyRollback(event.strategy, this.doc.tasks, saved.tasks, named);
    return {
      ...event,
      tasks,
      allTasks: true,
      ...(event.strategy === 'full' && saved.planSummary !== undefined && { planSummary: saved.planSummary }),
    };
  }

  /** The run machine's persisted snapshot in `status`, with the base snapshot's context where it has one. */
  private snapshot(status: RunStatus): unknown {
    const { doc } = this;
    const base = (doc.runSnapshot as { context?: Partial<RunContext> } | undefined)?.context;
    const execution = (doc.config['execution'] ?? {}) as { max_retries?: unknown };
    const context: RunContext = {
      runId: doc.id,
      goal: doc.goal,
      imported: undefined,
      // Only planning reads it, and a rebuilt run that was planning plans afresh from its own input.
      maxRepairs: base?.maxRepairs ?? 2,
      maxRetries: base?.maxRetries ?? (typeof execution.max_retries === 'number' ? execution.max_retries : 3),
      error: doc.error,
      pause: undefined,
      rollback: undefined,
    };
    // A pause is a state of its reason; a run paused for a quota with a known reset goes on by itself then.
    const value =
      status === 'paused'
        ? { paused: doc.pauseReason ?? 'user' }
        : status === 'awaiting_approval'
          ? 'awaitingApproval'
          : status;
    if (status === 'paused' && doc.resumeAt !== undefined)
      context.pause = { until: Date.parse(doc.resumeAt) };
    return runMachine.getPersistedSnapshot(runMachine.resolveState({ value, context }));
  }
}
