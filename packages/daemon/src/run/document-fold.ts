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
import {
  persistedRunIn,
  type RollbackRequest,
  type RunContext,
  type RunPlace,
} from '../actors/run.machine.js';
import type { RunDocument } from '../store/run-document.js';
import { applyAgentEvent } from './agent-attempts.js';
import { applyRollback } from './apply-rollback.js';

/** Reads a checkpoint the journal rolls back to. */
export type ReadCheckpoint = (checkpointId: string) => Promise<RunDocument>;

/** The journal cannot rebuild the run: why. */
export class RebuildImpossible extends Error {
  override readonly name = 'RebuildImpossible';
}

const FINISHED_TASK: ReadonlySet<TaskStatus> = new Set(['done', 'failed', 'skipped']);

/**
 * A run document carried forward by the journal's events after it: the one way both a restore (the
 * document on disk, caught up with the events past it) and a rebuild (a checkpoint or nothing, and the
 * journal) read a run back, so the two agree. The document reflects exactly the events up to its
 * `lastEventId` (the store writes it only once the journal holds them), so each event is applied once.
 *
 * The run's own state follows the run-level events (status, pauses with their reason, message and reset,
 * a rollback begun, done or failed); with none past the document, its saved snapshot stands.
 */
export class DocumentFold {
  private tasks: Map<string, TaskRecord>;
  /** Why the run last paused: resuming a budget pause without a new budget lifts the budget. */
  private lastPause: PauseReason | undefined;
  private budgetSetSincePause = false;
  /** A run-level event was applied: the saved snapshot of the run actor no longer holds. */
  private runStateChanged = false;
  /** What the last pause said to a person. */
  private pauseMessage: string | undefined;
  /** A rollback begun and neither done nor failed: the restored run finishes it. */
  private rollback: RollbackRequest | undefined;

  constructor(private readonly doc: RunDocument) {
    this.tasks = new Map(doc.tasks.map((task) => [task.id, task]));
    this.lastPause = doc.pauseReason;
  }

  async apply(event: OrcEvent, readCheckpoint: ReadCheckpoint): Promise<void> {
    await this.applyEvent(event, readCheckpoint);
    // The run's spend as the event recorded it: the manager's plans and reviews are no attempt's cost, so
    // adding up the attempts left them out (a rebuilt run showed $0.0071 of its $0.0118).
    if ('spent' in event && event.spent) {
      this.doc.usage = event.spent.usage;
      this.doc.costUsd = event.spent.costUsd;
    }
  }

  private async applyEvent(event: OrcEvent, readCheckpoint: ReadCheckpoint): Promise<void> {
    const { doc } = this;
    doc.lastEventId = event.id;
    doc.updatedAt = event.at;
    if ('taskId' in event) return this.applyToTask(event);
    switch (event.type) {
      case 'run.planned':
        return this.plan(event.summary, event.tasks);
      case 'run.status':
        this.runStateChanged = true;
        return this.status(event.status);
      case 'run.paused':
        this.runStateChanged = true;
        doc.pauseReason = event.reason;
        this.pauseMessage = event.message;
        // A quota pause with a known reset goes on by itself then, after a crash too.
        if (event.resumeAt !== undefined) doc.resumeAt = event.resumeAt;
        else delete doc.resumeAt;
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
        this.runStateChanged = true;
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
      case 'run.rollback_started':
        this.runStateChanged = true;
        this.rollback = { checkpointId: event.checkpointId, strategy: event.strategy, tasks: event.tasks };
        doc.status = 'paused';
        doc.pauseReason = 'user';
        return;
      case 'run.rollback_failed':
        this.runStateChanged = true;
        this.rollback = undefined;
        this.pauseMessage = undefined;
        return;
      case 'run.rolled_back': {
        this.runStateChanged = true;
        this.rollback = undefined;
        this.pauseMessage = undefined;
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
        // As the run does: it waits for a person, and how it ended before no longer holds.
        doc.status = 'paused';
        doc.pauseReason = 'user';
        delete doc.finishedAt;
        delete doc.error;
        delete doc.finalReview;
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
    if (!this.runStateChanged && doc.runSnapshot !== undefined) return doc;
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
    const place: RunPlace =
      this.rollback !== undefined
        ? { rollingBack: this.rollback }
        : status === 'paused'
          ? {
              paused: doc.pauseReason ?? 'user',
              ...(this.pauseMessage !== undefined && { message: this.pauseMessage }),
              ...(doc.resumeAt !== undefined && { until: Date.parse(doc.resumeAt) }),
            }
          : { status: status === 'reviewing' || status === 'damaged' ? 'executing' : status };
    return persistedRunIn(place, context);
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
        if (event.review.verdict === 'rework') {
          task.reworks += 1;
          task.feedback = event.review.feedback;
        }
        return;
      }
      case 'task.worked': {
        // The worker's answer, waiting for its review: a restored run reviews it rather than redo it.
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        this.charge(attempt, event.usage, event.costUsd);
        attempt.outcome = 'succeeded';
        attempt.endedAt = event.at;
        attempt.output = event.output;
        if (event.diff !== undefined) attempt.diff = event.diff;
        return;
      }
      case 'task.completed': {
        const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
        this.charge(attempt, event.usage, event.costUsd);
        attempt.outcome = 'succeeded';
        attempt.endedAt ??= event.at;
        attempt.output = undefined;
        attempt.diff = undefined;
        // Done with its result, even when the task.status that follows did not reach the disk.
        if (task.status !== 'done') this.doc.tasksDoneSinceCheckpoint += 1;
        task.status = 'done';
        task.result = event.result;
        task.finishedAt = event.at;
        task.worker = undefined;
        task.error = undefined;
        task.feedback = undefined;
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
        // Back from merging, mostly a merge conflict: the answer no longer merges and is worked again
        // (the task machine drops it too; an interruption there, rare, is then worked again as well).
        if (previous === 'merging' && last) {
          last.output = undefined;
          last.diff = undefined;
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
