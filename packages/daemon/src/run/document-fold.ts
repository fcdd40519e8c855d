import {
  RunFold,
  SETTLED_STATUSES,
  ZERO_USAGE,
  type FoldedRun,
  type OrcEvent,
  type PauseReason,
  type RunStatus,
} from '@orc/shared';
import {
  persistedRunIn,
  type RollbackRequest,
  type RunContext,
  type RunPlace,
} from '../actors/run.machine.js';
import { TaskText, type KeptRunDocument, type RunDocument } from '../store/run-document.js';
import { applyRollback } from './apply-rollback.js';

/** Events that neither read nor replace task records (RunFold's and this fold's): settled texts stay text. */
const TASKLESS_EVENTS: ReadonlySet<OrcEvent['type']> = new Set<OrcEvent['type']>([
  'run.created',
  'run.planning',
  'run.plan_rejected',
  'run.plan_answered',
  'run.status',
  'run.paused',
  'run.resumed',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.rollback_started',
  'run.rollback_failed',
  'run.budget_exceeded',
  'run.budget_would_exceed',
  'run.budget_set',
  'run.task_budget_set',
  'run.concurrency',
  'run.integrated',
  'checkpoint.created',
  'feedback.rated',
  'train.verifying',
  'train.verified',
  'train.landed',
]);

/** Reads a checkpoint the journal rolls back to. */
export type ReadCheckpoint = (checkpointId: string) => Promise<RunDocument>;

/** The journal cannot rebuild the run: why. */
export class RebuildImpossible extends Error {
  override readonly name = 'RebuildImpossible';
}

/**
 * A run document carried forward by the journal's events after it, by the fold clients keep their view
 * with (RunFold), so the daemon and its clients read the journal alike: a restore (the saved document
 * caught up with the events past it, run-loader.ts) and a rebuild (a checkpoint or nothing, and the
 * journal, rebuild-run.ts). The document reflects exactly the events up to its `lastEventId` (the store
 * writes it only once the journal holds them), so each event is applied once.
 *
 * Beside what RunFold folds, it keeps what only the document holds: checkpoints, tasks held at their
 * source, the budget a person set or lifted, and the run actor's snapshot, made again for where the
 * events left the run (a pause with its reason and message, a quota's reset, a rollback begun and neither
 * done nor failed, which the restored run then finishes).
 */
export class DocumentFold {
  private readonly fold: RunFold<RunDocument>;
  /**
   * Whether the document may still hold settled tasks as their text: parsed only when an event reads
   * their record (see `unseal`), so a restore does not parse 50,000 settled records.
   */
  private sealed: boolean;
  /** Why the run last paused: resuming a budget pause without a new budget lifts the budget. */
  private lastPause: PauseReason | undefined;
  private budgetSetSincePause = false;
  /** A rollback begun and neither done nor failed: the restored run finishes it. */
  private rollback: RollbackRequest | undefined;
  /** The events moved the run itself (its status, a pause, a plan, a rollback): the base's snapshot no longer holds. */
  private runMoved = false;

  constructor(doc: KeptRunDocument) {
    this.sealed = doc.tasks.some((task) => task instanceof TaskText);
    // The texts are never read as records by the fold: `unseal` parses each before an event reads it.
    // Found by the fold's own index of the tasks: a map of the texts beside it cost a restore of
    // 100,000 tasks another 100,000 entries.
    this.fold = new RunFold(doc as RunDocument);
    this.lastPause = doc.pauseReason;
  }

  private get doc(): RunDocument {
    return this.fold.run;
  }

  /**
   * Parses the settled tasks the event reads: the one it names, or all of them for an event that reads
   * or replaces the task list (a plan, a restore, a rollback, an edit of the plan: rare).
   */
  private unseal(event: OrcEvent): void {
    if (!this.sealed) return;
    const tasks = this.doc.tasks as (RunDocument['tasks'][number] | TaskText)[];
    if ('taskId' in event) {
      const i = this.fold.placeOf(event.taskId);
      const task = i === undefined ? undefined : tasks[i];
      if (task instanceof TaskText) tasks[i!] = task.record();
      return;
    }
    if (TASKLESS_EVENTS.has(event.type)) return;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i];
      if (task instanceof TaskText) tasks[i] = task.record();
    }
    this.sealed = false;
  }

  /** The fold of a run from its `run.created` event (throws RebuildImpossible). */
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

  async apply(event: OrcEvent, readCheckpoint: ReadCheckpoint): Promise<void> {
    this.unseal(event);
    if (event.type === 'run.rolled_back' && event.tasks === undefined) {
      // Written before rollbacks carried their records (or too many to carry): they come from the checkpoint.
      event = await this.withCheckpointRecords(event, readCheckpoint);
    }
    const before = 'taskId' in event ? this.fold.task(event.taskId) : undefined;
    this.fold.apply(event);
    const { doc } = this;
    switch (event.type) {
      case 'run.status':
      case 'run.planned':
        this.runMoved = true;
        return;
      case 'run.rollback_started':
        this.runMoved = true;
        this.rollback = { checkpointId: event.checkpointId, strategy: event.strategy, tasks: event.tasks };
        return;
      case 'run.rollback_failed':
        this.runMoved = true;
        this.rollback = undefined;
        return;
      case 'run.rolled_back':
        this.runMoved = true;
        this.rollback = undefined;
        doc.tasksDoneSinceCheckpoint = 0;
        return;
      case 'run.paused':
        this.runMoved = true;
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
      case 'run.task_budget_set': {
        const execution = (doc.config['execution'] ?? {}) as Record<string, unknown>;
        doc.config = { ...doc.config, execution: { ...execution, max_task_cost_usd: event.limitUsd } };
        return;
      }
      case 'run.resumed':
        this.runMoved = true;
        if (this.lastPause === 'budget' && !this.budgetSetSincePause) doc.budgetLifted = true;
        return;
      case 'checkpoint.created':
        if (!doc.checkpoints.some((c) => c.id === event.checkpoint.id))
          doc.checkpoints.push(event.checkpoint);
        doc.tasksDoneSinceCheckpoint = 0;
        return;
      case 'task.completed':
        if (before?.status !== 'done') doc.tasksDoneSinceCheckpoint += 1;
        return;
      case 'task.status':
        // Held at its source until a person retries it.
        if (event.status === 'blocked' && event.held === true && event.reason !== undefined)
          (doc.heldTasks ??= {})[event.taskId] = event.reason;
        if (event.status === 'pending' && before !== undefined && SETTLED_STATUSES.has(before.status))
          delete doc.heldTasks?.[event.taskId];
        return;
      case 'plan.tasks_removed':
        for (const id of event.taskIds) delete doc.heldTasks?.[id];
        return;
      default:
        return;
    }
  }

  /**
   * The document. With `keepSnapshot`, the base's run snapshot stays unless the events moved the run
   * itself: a run caught up after a crash goes on in the state it was saved in, a rollback cut short
   * included. Otherwise the snapshot is made for where the journal leaves the run (a rebuild).
   */
  finish(keepSnapshot: boolean): KeptRunDocument {
    const { doc } = this;
    // What the pause says lives in the run actor's snapshot, not beside it in the document.
    const message = (doc as FoldedRun).pauseMessage;
    delete (doc as FoldedRun).pauseMessage;
    if (keepSnapshot && !this.runMoved) return doc;
    // A final review cut off is written again: the run goes back to executing, finds every task
    // settled, and reviews. A run still planning plans afresh (its snapshot is left out).
    const status: RunStatus = doc.status === 'reviewing' ? 'executing' : doc.status;
    doc.status = status;
    if (status !== 'paused') {
      delete doc.pauseReason;
      delete doc.resumeAt;
      delete doc.quotaModel;
    }
    doc.runSnapshot = status === 'analyzing' ? undefined : this.snapshot(status, message);
    return doc;
  }

  /** An older journal's rollback with the records it gave, worked out again from its checkpoint. */
  private async withCheckpointRecords(
    event: Extract<OrcEvent, { type: 'run.rolled_back' }>,
    readCheckpoint: ReadCheckpoint,
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

  /** The run machine's persisted snapshot where the journal leaves the run, with the base's context where it has one. */
  private snapshot(status: RunStatus, message: string | undefined): unknown {
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
    const place: RunPlace =
      this.rollback !== undefined
        ? { rollingBack: this.rollback }
        : status === 'paused'
          ? {
              paused: doc.pauseReason ?? 'user',
              ...(message !== undefined && { message }),
              ...(doc.resumeAt !== undefined && { until: Date.parse(doc.resumeAt) }),
              ...(doc.quotaModel !== undefined && { model: doc.quotaModel }),
            }
          : { status: status === 'reviewing' || status === 'damaged' ? 'executing' : status };
    return persistedRunIn(place, context);
  }
}
