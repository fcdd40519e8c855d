import {
  FINISHED_RUN_STATUSES,
  SETTLED_STATUSES,
  ZERO_USAGE,
  addUsage,
  subtractUsage,
  type Attempt,
  type OrcEvent,
  type PauseReason,
  type RunStatus,
  type TaskRecord,
  type TaskStatus,
  type Usage,
} from '@orc/shared';
import { runMachine, type RunContext } from '../actors/run.machine.js';
import type { RunDocument } from '../store/run-document.js';
import { applyAgentEvent } from './agent-attempts.js';
import { applyRollback } from './apply-rollback.js';

/** The journal cannot rebuild the run: why. */
export class RebuildImpossible extends Error {
  override readonly name = 'RebuildImpossible';
}

export interface RebuildSource {
  /** A copy of the document to start from (a checkpoint), or undefined to start from `run.created`. */
  base: RunDocument | undefined;
  /** The journal's events after the base's last one (all of them without a base), in order. */
  events: AsyncIterable<OrcEvent>;
  /** A checkpoint the journal rolls back to. */
  readCheckpoint: (checkpointId: string) => Promise<RunDocument>;
}

/**
 * A run's document rebuilt from a checkpoint (or nothing) and the journal's events after it, for a run
 * whose `state.json` is lost or damaged. Every event that changes the document is applied: the plan,
 * each task's moves and attempts, what attempts cost, pauses and budgets, checkpoints, rollbacks, the
 * end of the run. What no event records is not recovered: the cost of the manager's calls after the base
 * (plans, reviews, the final review), merge-conflict reworks, a failed run's final review. The run
 * machine's snapshot is made for the status the journal ends in.
 */
export async function rebuildRunDocument(runId: string, source: RebuildSource): Promise<RunDocument> {
  let fold = source.base ? new DocumentFold(source.base) : undefined;
  for await (const event of source.events) {
    if (!fold) {
      fold = DocumentFold.fromCreated(runId, event);
      continue;
    }
    await fold.apply(event, source.readCheckpoint);
  }
  if (!fold) throw new RebuildImpossible('the journal has no event');
  return fold.finish();
}

/** The document a run starts with, as its `run.created` event records it (throws RebuildImpossible). */
export function documentFromCreated(runId: string, event: OrcEvent): RunDocument {
  return DocumentFold.fromCreated(runId, event).finish();
}

const FINISHED_TASK: ReadonlySet<TaskStatus> = new Set(['done', 'failed', 'skipped']);

class DocumentFold {
  private tasks: Map<string, TaskRecord>;
  /** Why the run last paused: resuming a budget pause without a new budget lifts the budget. */
  private lastPause: PauseReason | undefined;
  private budgetSetSincePause = false;

  constructor(private readonly doc: RunDocument) {
    this.tasks = new Map(doc.tasks.map((task) => [task.id, task]));
    this.lastPause = doc.pauseReason;
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
    await this.applyEvent(event, readCheckpoint);
    // The run's spend as the event recorded it: the manager's plans and reviews are no attempt's cost, so
    // adding up the attempts left them out (a rebuilt run showed $0.0071 of its $0.0118).
    if ('spent' in event && event.spent) {
      this.doc.usage = event.spent.usage;
      this.doc.costUsd = event.spent.costUsd;
    }
  }

  private async applyEvent(event: OrcEvent, readCheckpoint: RebuildSource['readCheckpoint']): Promise<void> {
    const { doc } = this;
    doc.lastEventId = event.id;
    doc.updatedAt = event.at;
    if ('taskId' in event) return this.applyToTask(event);
    switch (event.type) {
      case 'run.planned':
        return this.plan(event.summary, event.tasks);
      case 'run.status':
        return this.status(event.status);
      case 'run.paused':
        doc.pauseReason = event.reason;
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
      case 'run.completed':
        doc.finalReview = event.review;
        doc.finishedAt = event.at;
        return;
      case 'run.failed':
        doc.error = event.error;
        doc.finishedAt = event.at;
        return;
      case 'run.cancelled':
        doc.finishedAt = event.at;
        return;
      case 'run.restored':
        return this.restored(event.interruptedTasks, event.at);
      case 'checkpoint.created':
        if (!doc.checkpoints.some((c) => c.id === event.checkpoint.id))
          doc.checkpoints.push(event.checkpoint);
        doc.tasksDoneSinceCheckpoint = 0;
        return;
      case 'run.rolled_back': {
        let saved: RunDocument;
        try {
          saved = await readCheckpoint(event.checkpointId);
        } catch (error) {
          throw new RebuildImpossible(
            `the journal rolls back to checkpoint ${event.checkpointId} (event ${event.id}), which cannot be read: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
        const named = event.strategy === 'selective' ? event.resetTasks : [];
        const { tasks } = applyRollback(event.strategy, [...this.tasks.values()], saved.tasks, named);
        this.tasks = new Map(tasks.map((task) => [task.id, task]));
        if (event.strategy === 'full') doc.planSummary = saved.planSummary;
        doc.tasksDoneSinceCheckpoint = 0;
        doc.pauseReason = 'user';
        return;
      }
      default:
        // run.created (again), run.planning, run.plan_rejected, run.concurrency, run.budget_exceeded,
        // run.integrated: nothing of the document.
        return;
    }
  }

  finish(): RunDocument {
    const { doc } = this;
    doc.tasks = [...this.tasks.values()];
    // A final review cut off is written again: the run goes back to executing, finds every task
    // settled, and reviews. A run still planning plans afresh (its snapshot is left out).
    const status: RunStatus = doc.status === 'reviewing' ? 'executing' : doc.status;
    doc.status = status;
    if (status !== 'paused') delete doc.pauseReason;
    doc.runSnapshot = status === 'analyzing' ? undefined : this.snapshot(status);
    return doc;
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

  private plan(summary: string, specs: readonly Omit<TaskRecord, 'status' | 'attempts' | 'reworks'>[]): void {
    this.doc.planSummary = summary;
    // As the run applies a plan: finished tasks of the same id keep what they did.
    const before = this.tasks;
    this.tasks = new Map();
    for (const spec of specs) {
      const kept = before.get(spec.id);
      const finished = kept !== undefined && FINISHED_TASK.has(kept.status);
      this.tasks.set(spec.id, {
        ...spec,
        status: finished ? kept.status : 'pending',
        attempts: kept?.attempts ?? [],
        reworks: kept?.reworks ?? 0,
        ...(finished && { result: kept.result, error: kept.error, finishedAt: kept.finishedAt }),
      });
    }
  }

  private status(next: RunStatus): void {
    const { doc } = this;
    if (FINISHED_RUN_STATUSES.has(doc.status) && !FINISHED_RUN_STATUSES.has(next)) {
      // Reopened by a retry, a skip or a rollback.
      delete doc.finishedAt;
      delete doc.error;
      delete doc.finalReview;
    }
    doc.status = next;
    if (next !== 'paused') delete doc.pauseReason;
  }

  private restored(interrupted: readonly string[], at: string): void {
    for (const task of this.tasks.values()) {
      for (const attempt of task.attempts) {
        if (attempt.outcome === 'running') {
          attempt.outcome = 'interrupted';
          attempt.endedAt = at;
        }
      }
    }
    for (const id of interrupted) {
      const task = this.tasks.get(id);
      if (!task) continue;
      task.status = 'ready';
      task.worker = undefined;
    }
  }

  private applyToTask(event: Extract<OrcEvent, { taskId: string }>): void {
    const task = this.tasks.get(event.taskId);
    if (!task) return;
    switch (event.type) {
      case 'task.status':
        return this.move(task, event.status, event.reason, event.at);
      case 'task.assigned':
        attemptOf(task, event.attempt, event.worker, event.at);
        task.worker = event.worker;
        task.startedAt ??= event.at;
        return;
      case 'task.attempt_failed': {
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        if (attempt.outcome === 'running' || attempt.outcome === 'succeeded') {
          attempt.outcome = 'failed';
          attempt.error = event.error;
          attempt.endedAt = event.at;
        }
        return;
      }
      case 'task.reviewed': {
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        attempt.review = event.review;
        if (event.usage !== undefined && event.costUsd !== undefined) {
          this.charge(attempt, event.usage, event.costUsd);
        }
        if (event.review.verdict === 'rework') task.reworks += 1;
        return;
      }
      case 'task.completed': {
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        this.charge(attempt, event.usage, event.costUsd);
        attempt.outcome = 'succeeded';
        attempt.endedAt ??= event.at;
        attempt.output = undefined;
        task.result = event.result;
        task.finishedAt = event.at;
        task.worker = undefined;
        task.error = undefined;
        this.doc.tasksDoneSinceCheckpoint += 1;
        return;
      }
      case 'task.failed':
        task.error = event.error;
        task.finishedAt = event.at;
        task.worker = undefined;
        return;
      case 'task.session':
      case 'task.tool_refused':
        applyAgentEvent(attemptOf(task, event.attempt, task.worker ?? 0, event.at), event);
        return;
      case 'task.source_changed':
        task.sourceChange = event.change;
        return;
      case 'worker.output':
        return;
    }
  }

  /** An attempt's cost as the journal tells it; the document counts it in the record and the run's total together. */
  private charge(attempt: Attempt, usage: Usage, costUsd: number): void {
    if (costUsd > attempt.costUsd) {
      this.doc.costUsd += costUsd - attempt.costUsd;
      this.doc.usage = addUsage(this.doc.usage, subtractUsage(usage, attempt.usage));
    }
    attempt.usage = usage;
    attempt.costUsd = costUsd;
  }

  private move(task: TaskRecord, next: TaskStatus, reason: string | undefined, at: string): void {
    const previous = task.status;
    task.status = next;
    const last = task.attempts.at(-1);
    switch (next) {
      case 'ready':
        task.readyAt = at;
        // Back from a worker (an interruption or a rework): the worker is free again.
        if (previous === 'running' || previous === 'reviewing') {
          task.worker = undefined;
          if (last?.outcome === 'running') {
            last.outcome = 'interrupted';
            last.endedAt = at;
          }
        }
        return;
      case 'reviewing':
      case 'merging':
        // The worker's answer came back: the attempt succeeded, the manager reviews it (and accepted it).
        if (last?.outcome === 'running') {
          last.outcome = 'succeeded';
          last.endedAt = at;
        }
        return;
      case 'pending':
        if (SETTLED_STATUSES.has(previous)) {
          // A retry.
          task.error = undefined;
          task.held = undefined;
          task.reworks = 0;
          if (this.doc.heldTasks) delete this.doc.heldTasks[task.id];
        }
        return;
      case 'blocked': {
        const held = this.doc.heldTasks?.[task.id];
        if (held !== undefined) task.held = held;
        else if (reason !== undefined) task.error = reason;
        task.worker = undefined;
        return;
      }
      case 'cancelled':
        if (last?.outcome === 'running') last.outcome = 'cancelled';
        task.worker = undefined;
        return;
      default:
        return;
    }
  }
}

/** The task's attempt number `n`; one the record lacks is added, as running. */
function attemptOf(task: TaskRecord, n: number, worker: number, at: string): Attempt {
  let attempt = task.attempts.find((a) => a.n === n);
  if (attempt === undefined) {
    attempt = { n, worker, startedAt: at, outcome: 'running', usage: ZERO_USAGE, costUsd: 0 };
    task.attempts.push(attempt);
    task.attempts.sort((a, b) => a.n - b.n);
  }
  return attempt;
}
