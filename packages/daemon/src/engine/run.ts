import {
  FINISHED_RUN_STATUSES,
  FinalReview,
  OrcError,
  Plan,
  TaskReview,
  ZERO_USAGE,
  addUsage,
  criticalPathLengths,
  subtractUsage,
  type Attempt,
  type CheckpointInfo,
  type NewEvent,
  type OrcEvent,
  type PauseReason,
  type ResolvedConfig,
  type RollbackStrategy,
  type RunStatus,
  type RunSummary,
  type RunView,
  type TaskRecord,
  type TaskSpec,
  type TaskStatus,
  type Usage,
} from '@orc/shared';
import type { Logger } from 'pino';
import type * as z from 'zod';
import { assign, createActor, fromPromise, type Actor } from 'xstate';
import { isoAt, type Clock } from '../clock.js';
import { managerMachine, type PlanResult } from '../machines/manager.machine.js';
import { runMachine } from '../machines/run.machine.js';
import { nextTaskStatus, type TaskEvent } from '../machines/task.machine.js';
import { workerCaller, workerMachine, type WorkerEmitted } from '../machines/worker.machine.js';
import { CallCancelledError, ModelError, backoffDelay } from '../model/model-error.js';
import { costOf } from '../model/pricing.js';
import { finalReviewPrompt, planPrompt, reviewPrompt, runContext, workPrompt } from '../model/prompts.js';
import type { ModelProvider } from '../model/provider.js';
import { costOfAttempt, runSetupOf, type RunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import { AdaptiveLimit, type SlotPool } from './concurrency.js';
import { Deadline } from './deadline.js';
import { OutputBatcher } from './output-batcher.js';
import { ReadyQueue } from './ready-queue.js';
import { RunJournal } from './run-journal.js';
import { applyRollback, downstreamOf } from './rollback.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';

export interface RunDeps {
  store: RunStore;
  clock: Clock;
  logger: Logger;
  /** The daemon-wide budget of model calls in flight. */
  slots: SlotPool;
  providers: { manager: ModelProvider; worker: ModelProvider };
  /** First backoff step; tests make it small. */
  retryBaseMs: number;
  /** The repository claude-code workers edit, one worktree per attempt; absent for runs that only talk. */
  workspace?: GitWorkspace;
}

const PLAN_REPAIRS = 2;
/** Auto checkpoints are spaced so a run makes about this many at most: each copies the run document. */
const MAX_AUTO_CHECKPOINTS = 5;

/**
 * One run: the run machine (its phase), its task records and ready queue, its workers, and its journal.
 * Task records live here, not in actors: a task's moves are checked against the task machine, and its
 * changes are journalled as events and saved (coalesced) in the run document.
 */
export class Run {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly dependents = new Map<string, string[]>();
  private readonly waitingOn = new Map<string, number>();
  private criticalPath = new Map<string, number>();
  private idOrder = new Map<string, number>();
  private readonly queue = new ReadyQueue();
  private readonly counts = new Map<TaskStatus, number>();
  private readonly feedback = new Map<string, string>();
  private readonly workers: Actor<typeof workerMachine>[] = [];
  private readonly idle: number[] = [];
  private readonly limit: AdaptiveLimit;
  private readonly journal: RunJournal;
  private actor!: Actor<typeof runMachine>;
  private status: RunStatus;
  private closing = false;
  private readonly statusWaiters = new Set<() => void>();
  private attemptCosts = { total: 0, count: 0 };
  /** Each task's latest diff, for its review (workspace runs). */
  private readonly diffs = new Map<string, string>();
  /** Accepted work waiting to be merged; the run is not settled while any is. */
  private merging = 0;
  private mergeQueue: Promise<void> = Promise.resolve();
  /** Checkpoint files being written: a rollback to one waits for it. */
  private readonly checkpointWrites = new Set<Promise<void>>();
  /** The run actor's last snapshot once closed; a stopped actor's own snapshot would restore stopped. */
  private closedSnapshot: unknown;
  private readonly settleHooks = new Set<() => Promise<void>>();
  /** Set while a rollback awaits: nothing is dispatched and no person's change is taken meanwhile. */
  private rollingBack = false;

  private constructor(
    private readonly deps: RunDeps,
    private readonly doc: RunDocument,
    private config: ResolvedConfig,
    lastEventId: number,
  ) {
    this.status = doc.status;
    this.limit = new AdaptiveLimit(config.execution.max_workers);
    this.journal = new RunJournal(doc.id, lastEventId, deps.store, deps.clock, deps.logger);
    for (const task of doc.tasks) this.tasks.set(task.id, task);
  }

  get id(): string {
    return this.doc.id;
  }

  /** Creates a run, writes it durably, and starts it (planning, or straight to work for imported tasks). */
  static async create(
    deps: RunDeps,
    init: {
      id: string;
      goal: string;
      imported: TaskSpec[] | undefined;
      /** Imported tasks not to run, with why (they are shown as blocked). */
      held?: Record<string, string>;
      source?: RunDocument['source'];
      workspace?: RunDocument['workspace'];
      config: ResolvedConfig;
      simulated: boolean;
    },
  ): Promise<Run> {
    const now = isoAt(deps.clock);
    const { config } = init;
    const doc: RunDocument = {
      version: 1,
      id: init.id,
      goal: init.goal,
      status: 'analyzing',
      models: {
        manager: { provider: deps.providers.manager.name, model: config.models.manager.model },
        worker: { provider: deps.providers.worker.name, model: config.models.worker.model },
        simulated: init.simulated,
      },
      config: config,
      createdAt: now,
      updatedAt: now,
      // Imported tasks are on disk from the start, so a crash before the first save loses nothing.
      tasks: (init.imported ?? []).map((spec) => ({
        ...spec,
        status: 'pending' as const,
        attempts: [],
        reworks: 0,
      })),
      importedTasks: init.imported !== undefined,
      heldTasks: init.held ?? {},
      ...(init.source !== undefined && { source: init.source }),
      ...(init.workspace !== undefined && { workspace: init.workspace }),
      usage: ZERO_USAGE,
      costUsd: 0,
      runSnapshot: undefined,
      lastEventId: 0,
      checkpoints: [],
      tasksDoneSinceCheckpoint: 0,
    };
    await deps.store.createRun(doc);
    const run = new Run(deps, doc, config, 0);
    run.emit({
      type: 'run.created',
      goal: init.goal,
      models: doc.models,
      maxWorkers: config.execution.max_workers,
      setup: runSetupOf(doc),
    });
    run.start(undefined, init.imported);
    return run;
  }

  /**
   * Brings a persisted run back: results journalled after the document was last saved are applied,
   * attempts that were in flight become new attempts, and a run that was executing goes on by itself.
   */
  static async restore(deps: RunDeps, doc: RunDocument): Promise<Run> {
    const journalLast = await deps.store.lastEventId(doc.id);
    const run = new Run(
      deps,
      doc,
      doc.config as unknown as ResolvedConfig,
      Math.max(doc.lastEventId, journalLast),
    );
    await run.catchUpFromJournal();
    const interrupted: string[] = [];
    for (const task of run.tasks.values()) {
      for (const attempt of task.attempts) {
        // Nothing runs in a process that just started: an attempt still marked running was cut off.
        if (attempt.outcome === 'running') {
          attempt.outcome = 'interrupted';
          attempt.endedAt = isoAt(deps.clock);
        }
        // The budget check predicts the next attempt's cost from those before the restart too.
        if (attempt.costUsd > 0) {
          run.attemptCosts.total += attempt.costUsd;
          run.attemptCosts.count += 1;
        }
      }
      if (task.status === 'running' || task.status === 'reviewing') {
        task.status = 'ready';
        task.worker = undefined;
        interrupted.push(task.id);
      }
    }
    run.rebuildGraph();
    if (!FINISHED_RUN_STATUSES.has(doc.status))
      run.emit({ type: 'run.restored', interruptedTasks: interrupted });
    // A run killed before its first save has no snapshot yet: it starts over (imported tasks are kept).
    const imported = doc.importedTasks ? doc.tasks.map(specOf) : undefined;
    run.start(doc.runSnapshot, doc.runSnapshot === undefined ? imported : undefined);
    return run;
  }

  /**
   * The daemon can die after an event is in the journal and before a document with its change is saved.
   * What the journal holds past the document is applied: results and failures, attempts begun, failed
   * and reviewed, and what finished attempts cost, so the run's spend survives the crash with its
   * results. A rollback past the document ends the catch-up: the tasks after it are not these records.
   */
  private async catchUpFromJournal(): Promise<void> {
    for await (const event of this.deps.store.readEvents(this.doc.id, this.doc.lastEventId)) {
      if (event.type === 'run.rolled_back') {
        this.deps.logger.warn(
          { runId: this.id, eventId: event.id },
          'the journal has a rollback the saved run does not; later task events are not applied',
        );
        return;
      }
      const task = 'taskId' in event ? this.tasks.get(event.taskId) : undefined;
      if (!task) continue;
      switch (event.type) {
        case 'task.assigned':
          attemptOf(task, event.attempt, event.worker, event.at);
          break;
        case 'task.attempt_failed': {
          const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
          if (attempt.outcome === 'running') {
            attempt.outcome = 'failed';
            attempt.error = event.error;
            attempt.endedAt = event.at;
          }
          break;
        }
        case 'task.reviewed':
          attemptOf(task, event.attempt, task.worker ?? 0, event.at).review = event.review;
          break;
        case 'task.completed': {
          const attempt = attemptOf(task, event.attempt, task.worker ?? 0, event.at);
          this.recoverCost(attempt, event.usage, event.costUsd);
          attempt.outcome = 'succeeded';
          attempt.endedAt ??= event.at;
          attempt.output = undefined;
          task.status = 'done';
          task.result = event.result;
          task.finishedAt = event.at;
          task.worker = undefined;
          task.error = undefined;
          break;
        }
        case 'task.failed':
          task.status = 'failed';
          task.error = event.error;
          task.finishedAt = event.at;
          task.worker = undefined;
          break;
        default:
          // Statuses on the way (running, reviewing) are undone by the restore anyway. A retry or a skip
          // made after the last save is not replayed: it may have reopened a finished run, and the run's
          // own state comes from the saved snapshot, so replaying the task's half would split the two.
          break;
      }
    }
  }

  /** What a finished attempt cost beyond what the saved document counted goes onto the run's spend. */
  private recoverCost(attempt: Attempt, usage: Usage, costUsd: number): void {
    // The document counts an attempt's cost in its record and in the run's total together, or not at all.
    if (costUsd > attempt.costUsd) {
      this.doc.costUsd += costUsd - attempt.costUsd;
      this.doc.usage = addUsage(this.doc.usage, subtractUsage(usage, attempt.usage));
    }
    attempt.usage = usage;
    attempt.costUsd = costUsd;
  }

  // ── The run machine ────────────────────────────────────────────────────────────────────────────

  private start(snapshot: unknown, imported: TaskSpec[] | undefined): void {
    const { clock, retryBaseMs } = this.deps;
    const waitUntil = fromPromise<void, { until: number }>(({ input, signal }) =>
      clock.sleep(Math.max(0, input.until - clock.now()), signal),
    );
    const machine = runMachine.provide({
      actors: {
        manager: managerMachine.provide({
          actors: {
            requestPlan: fromPromise(({ input, signal }) => this.requestPlan(input.feedback, signal)),
            waitUntil,
          },
          actions: {
            announcePlanning: (_, params) => this.emit({ type: 'run.planning', attempt: params.attempt }),
            announceRejected: (_, params) =>
              this.emit({ type: 'run.plan_rejected', attempt: params.attempt, error: params.error }),
            scheduleBackoff: assign({
              backoffUntil: ({ context }) =>
                clock.now() +
                backoffDelay(context.retries, context.failure?.retryAfterMs, Math.random, retryBaseMs),
            }),
          },
        }),
        finalReview: fromPromise(({ signal }) => this.requestFinalReview(signal)),
      },
      actions: {
        applyPlan: (_, { result }) => this.applyPlan(result),
        storeFinalReview: (_, { review, error }) => {
          if (review) this.doc.finalReview = review;
          if (error) this.deps.logger.warn({ runId: this.id, error }, 'final review failed');
        },
      },
      guards: { allTasksDone: () => this.allTasksDone() },
    });
    this.actor = createActor(machine, {
      input: {
        runId: this.id,
        goal: this.doc.goal,
        imported,
        maxRepairs: PLAN_REPAIRS,
        maxRetries: this.config.execution.max_retries,
      },
      ...(snapshot !== undefined && snapshot !== null ? { snapshot: snapshot as never } : {}),
    });
    this.actor.subscribe({
      next: (s) => this.onPhase(s.value),
      error: (error) => this.deps.logger.error({ err: error, runId: this.id }, 'run actor failed'),
    });
    this.actor.start();
    this.onPhase(this.actor.getSnapshot().value, true);
  }

  private onPhase(next: RunStatus, initial = false): void {
    if (next === this.status && !initial) return;
    const previous = this.status;
    this.status = next;
    this.doc.status = next;
    if (next !== 'paused') delete this.doc.pauseReason;
    if (!initial || previous !== next) this.emit({ type: 'run.status', status: next });
    if (next === 'executing') {
      if (previous === 'paused' && !initial) this.emit({ type: 'run.resumed' });
      if (this.workers.length === 0) this.startWorkers();
      this.dispatch();
    }
    if (next === 'cancelled') this.cancelEverything();
    if (FINISHED_RUN_STATUSES.has(next) && previous !== next) this.finish(next);
    this.save();
    for (const wake of this.statusWaiters) wake();
  }

  private finish(status: RunStatus): void {
    this.doc.finishedAt = isoAt(this.deps.clock);
    if (status === 'completed' && this.doc.finalReview)
      this.emit({ type: 'run.completed', review: this.doc.finalReview });
    else if (status === 'completed') {
      this.emit({
        type: 'run.completed',
        review: {
          verdict: 'success',
          summary: 'Every task is done (the final review could not be written).',
          followUps: [],
        },
      });
    } else if (status === 'failed') {
      this.doc.error = this.actor.getSnapshot().context.error ?? this.failureSummary();
      this.emit({ type: 'run.failed', error: this.doc.error });
    } else if (status === 'cancelled') this.emit({ type: 'run.cancelled' });
    // A finished run holds no file open and no event buffer; both come back if it is reopened.
    void this.journal
      .drain()
      .then(async () => {
        if (!FINISHED_RUN_STATUSES.has(this.status)) return;
        this.journal.forgetRecent();
        await this.deps.store.releaseRun?.(this.id);
      })
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, runId: this.id }, 'could not release a finished run'),
      );
  }

  private failureSummary(): string {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const tasks = [...this.tasks.values()];
    const failed = tasks.filter((t) => t.status === 'failed');
    const blocked = tasks.filter((t) => t.status === 'blocked' && t.held === undefined);
    const waiting = this.countOf('pending');
    const parts: string[] = [];
    if (failed.length > 0)
      parts.push(
        `${plural(failed.length, 'task')} failed (first: ${failed[0]!.id}: ${failed[0]!.error ?? 'no reason'})`,
      );
    if (blocked.length > 0)
      parts.push(
        `${plural(blocked.length, 'task')} blocked (first: ${blocked[0]!.id}: ${blocked[0]!.error ?? 'waits for a person'})`,
      );
    if (waiting > 0) parts.push(`${plural(waiting, 'task')} never ran because a dependency did not finish`);
    return `${parts.join('; ')}; fix the cause, then orc retry ${this.id} <task>`;
  }

  // ── Planning and the final review (the manager's model) ────────────────────────────────────────

  private async requestPlan(feedback: string | undefined, signal: AbortSignal): Promise<string> {
    const { system, prompt } = planPrompt(this.doc.goal, feedback);
    return this.callManager('plan', system, prompt, Plan, signal);
  }

  /** Leaves the run's work on its integration branch for review, or merges it when asked and all is done. */
  private async integrate(): Promise<void> {
    const { workspace } = this.deps;
    if (!workspace) return;
    await this.mergeQueue;
    const merge = this.doc.workspace?.merge === true && this.allTasksDone();
    const result = await workspace.finish({ merge });
    this.emit({
      type: 'run.integrated',
      branch: workspace.branch,
      merged: result.merged,
      message: result.merged
        ? `merged ${workspace.branch} into ${result.into} (${result.commit.slice(0, 12)})`
        : result.message,
    });
  }

  private async requestFinalReview(signal: AbortSignal): Promise<FinalReview> {
    await this.integrate();
    // Whatever follows the events (a Task Master write-back) has caught up before the run is reported over.
    await this.journal.drain();
    await Promise.all([...this.settleHooks].map((hook) => hook()));
    const { system, prompt } = finalReviewPrompt(this.context(), { summary: this.doc.planSummary ?? '' }, [
      ...this.tasks.values(),
    ]);
    const text = await this.callManager('final-review', system, prompt, FinalReview, signal);
    const parsed = FinalReview.safeParse(safeJson(text));
    if (!parsed.success) throw new ModelError('recoverable', 'the final review did not match its schema');
    return parsed.data;
  }

  private async callManager(
    purpose: 'plan' | 'final-review' | 'review',
    system: string,
    prompt: string,
    schema: z.ZodType,
    signal: AbortSignal,
  ): Promise<string> {
    const release = await this.deps.slots.acquire(signal);
    const deadline = new Deadline(signal, this.config.execution.manager_timeout * 1000);
    try {
      const response = await this.deps.providers.manager.complete({
        purpose,
        model: this.config.models.manager.model,
        system,
        prompt,
        maxTokens: this.config.models.manager.max_tokens,
        outputSchema: schema,
        signal: deadline.signal,
      });
      this.chargeRun(response.usage, this.config.models.manager.model);
      return response.text;
    } catch (error) {
      throw deadline.timedOut && !signal.aborted
        ? new ModelError(
            'recoverable',
            `the manager did not answer within ${this.config.execution.manager_timeout}s`,
          )
        : error;
    } finally {
      deadline.clear();
      release();
    }
  }

  private applyPlan(result: PlanResult): void {
    if (!result.ok) return;
    const now = isoAt(this.deps.clock);
    this.doc.planSummary = result.plan.summary;
    // A run restored before its first snapshot starts over from its imported tasks: what the journal
    // says they did before the crash stays (finished tasks are not run again, attempt numbers go on).
    const before = new Map(this.tasks);
    this.tasks.clear();
    for (const spec of result.plan.tasks) {
      const kept = before.get(spec.id);
      const finished = kept !== undefined && FINISHED_TASK_STATUSES.has(kept.status);
      this.tasks.set(spec.id, {
        ...spec,
        status: finished ? kept.status : 'pending',
        attempts: kept?.attempts ?? [],
        reworks: kept?.reworks ?? 0,
        ...(finished && {
          result: kept.result,
          error: kept.error,
          finishedAt: kept.finishedAt,
        }),
      });
    }
    this.emit({ type: 'run.planned', summary: result.plan.summary, tasks: result.plan.tasks });
    this.rebuildGraph(now);
    for (const [id, reason] of Object.entries(this.doc.heldTasks ?? {})) {
      const task = this.tasks.get(id);
      if (!task || nextTaskStatus(task.status, 'task.hold') === undefined) continue;
      task.held = reason;
      this.move(task, 'task.hold', reason);
    }
    void this.autoCheckpoint('planned');
  }

  // ── The task graph ─────────────────────────────────────────────────────────────────────────────

  /** Recomputes dependents, waiting counts, the critical path and the ready queue from the records. */
  private rebuildGraph(now = isoAt(this.deps.clock)): void {
    const tasks = [...this.tasks.values()];
    this.dependents.clear();
    this.waitingOn.clear();
    this.queue.clear();
    this.counts.clear();
    for (const task of tasks) this.dependents.set(task.id, []);
    for (const task of tasks) {
      for (const dep of task.dependencies) this.dependents.get(dep)?.push(task.id);
      this.counts.set(task.status, (this.counts.get(task.status) ?? 0) + 1);
    }
    this.criticalPath = criticalPathLengths(tasks);
    const collator = new Intl.Collator('en', { numeric: true });
    this.idOrder = new Map(
      tasks
        .map((t) => t.id)
        .sort(collator.compare)
        .map((id, i) => [id, i]),
    );
    for (const task of tasks) {
      const waiting = task.dependencies.filter((dep) => !this.satisfies(this.tasks.get(dep)?.status)).length;
      this.waitingOn.set(task.id, waiting);
      if (task.status === 'pending' && waiting === 0) this.move(task, 'task.unblocked', undefined, now);
      else if (task.status === 'ready') this.enqueue(task);
    }
  }

  private satisfies(status: TaskStatus | undefined): boolean {
    return status === 'done' || status === 'skipped';
  }

  private enqueue(task: TaskRecord): void {
    this.queue.push({
      id: task.id,
      criticalPath: this.criticalPath.get(task.id) ?? 1,
      priority: task.priority,
      order: this.idOrder.get(task.id) ?? 0,
    });
  }

  /** Moves a task through the task machine; an illegal move is a bug or a user asking the impossible. */
  private move(
    task: TaskRecord,
    event: TaskEvent['type'],
    reason?: string,
    now = isoAt(this.deps.clock),
  ): void {
    const next = nextTaskStatus(task.status, event);
    if (next === undefined) {
      throw new OrcError(
        'INVALID_STATE',
        `task ${task.id} is ${task.status}; it cannot take ${event.slice(5)}`,
      );
    }
    const previous = task.status;
    this.counts.set(previous, (this.counts.get(previous) ?? 1) - 1);
    this.counts.set(next, (this.counts.get(next) ?? 0) + 1);
    task.status = next;
    if (previous !== 'ready' && next !== 'ready') this.queue.delete(task.id);
    if (next === 'ready') {
      task.readyAt = now;
      this.enqueue(task);
    } else {
      this.queue.delete(task.id);
    }
    this.emit({
      type: 'task.status',
      taskId: task.id,
      status: next,
      ...(reason !== undefined && { reason }),
    });
    if (this.satisfies(next) && !this.satisfies(previous)) this.unlockDependents(task, now);
    if (!this.satisfies(next) && this.satisfies(previous)) this.relockDependents(task);
  }

  private unlockDependents(task: TaskRecord, now: string): void {
    for (const id of this.dependents.get(task.id) ?? []) {
      const waiting = (this.waitingOn.get(id) ?? 1) - 1;
      this.waitingOn.set(id, waiting);
      const dependent = this.tasks.get(id)!;
      if (waiting === 0 && dependent.status === 'pending')
        this.move(dependent, 'task.unblocked', undefined, now);
    }
  }

  private relockDependents(task: TaskRecord): void {
    for (const id of this.dependents.get(task.id) ?? []) {
      this.waitingOn.set(id, (this.waitingOn.get(id) ?? 0) + 1);
    }
  }

  private countOf(status: TaskStatus): number {
    return this.counts.get(status) ?? 0;
  }

  /** Done, apart from what was skipped and imported tasks that were never to run. */
  private allTasksDone(): boolean {
    const held = Object.keys(this.doc.heldTasks ?? {}).filter(
      (id) => this.tasks.get(id)?.status === 'blocked',
    ).length;
    return this.countOf('done') + this.countOf('skipped') + held === this.tasks.size;
  }

  // ── Workers and dispatch ───────────────────────────────────────────────────────────────────────

  private startWorkers(): void {
    const { clock, retryBaseMs } = this.deps;
    const waitUntil = fromPromise<void, { until: number }>(({ input, signal }) =>
      clock.sleep(Math.max(0, input.until - clock.now()), signal),
    );
    const machine = workerMachine.provide({
      actors: {
        caller: workerCaller({
          work: (input, signal) => this.work(input.taskId, input.worker, input.maxTokens, signal),
          review: (input, signal) => this.review(input.taskId, input.text, signal),
        }),
        waitUntil,
      },
    });
    for (let index = 0; index < this.config.execution.max_workers; index++) {
      const worker = createActor(machine, {
        input: { index, maxRetries: this.config.execution.max_retries, clock, retryBaseMs },
      });
      worker.on('*', (event) => this.onWorker(event));
      worker.start();
      this.workers.push(worker);
      this.idle.push(index);
    }
    this.idle.reverse();
  }

  private get busyWorkers(): number {
    return this.workers.length - this.idle.length;
  }

  /** Hands ready tasks to idle workers, best first, within the run's (adaptive) cap and the budget. */
  private dispatch(): void {
    if (this.status !== 'executing' || this.closing || this.rollingBack) return;
    while (this.queue.size > 0 && this.idle.length > 0 && this.busyWorkers < this.limit.value) {
      if (this.overBudget()) return;
      const next = this.queue.pop()!;
      const task = this.tasks.get(next.id)!;
      const worker = this.idle.pop()!;
      this.move(task, 'task.assign');
      task.worker = worker;
      task.startedAt ??= isoAt(this.deps.clock);
      this.workers[worker]!.send({
        type: 'worker.assign',
        assignment: { taskId: task.id, maxTokens: this.config.models.worker.max_tokens },
      });
    }
    this.checkSettled();
  }

  private checkSettled(): void {
    if (
      this.status === 'executing' &&
      this.busyWorkers === 0 &&
      this.queue.size === 0 &&
      this.merging === 0
    ) {
      this.actor.send({ type: 'run.settled' });
    }
  }

  /** A run that would pass `max_cost_usd` with its next attempt pauses instead of spending more. */
  private overBudget(): boolean {
    const limit = this.config.execution.max_cost_usd;
    if (limit === undefined || this.doc.budgetLifted) return false;
    const average = this.attemptCosts.count > 0 ? this.attemptCosts.total / this.attemptCosts.count : 0;
    // What is already in flight will be spent too.
    if (this.doc.costUsd + average * (this.busyWorkers + 1) <= limit && this.doc.costUsd < limit)
      return false;
    this.emit({ type: 'run.budget_exceeded', costUsd: this.doc.costUsd, limitUsd: limit });
    this.pause(
      'budget',
      `spent $${this.doc.costUsd.toFixed(4)} of the $${limit} budget; orc resume ${this.id} --budget <usd> goes on within a new one, without --budget past it`,
    );
    return true;
  }

  private async work(
    taskId: string,
    worker: number,
    maxTokens: number,
    signal: AbortSignal,
  ): Promise<{ text: string }> {
    const task = this.tasks.get(taskId)!;
    const attempt: Attempt = {
      n: task.attempts.length + 1,
      worker,
      startedAt: isoAt(this.deps.clock),
      outcome: 'running',
      usage: ZERO_USAGE,
      costUsd: 0,
    };
    task.attempts.push(attempt);
    // Every attempt, the first and each retry after a backoff, is announced with its number.
    this.emit({ type: 'task.assigned', taskId, worker, attempt: attempt.n });
    const release = await this.deps.slots.acquire(signal);
    const deadline = new Deadline(signal, this.config.execution.worker_timeout * 1000);
    const dependencies = task.dependencies
      .map((id) => this.tasks.get(id)!)
      .filter((d) => d.status === 'done');
    const { system, prompt } = workPrompt(this.context(), task, dependencies, this.feedback.get(taskId));
    const output = new OutputBatcher((text) => this.emit({ type: 'worker.output', taskId, worker, text }));
    const { workspace } = this.deps;
    let worktree: string | undefined;
    try {
      // A fresh worktree from the integration head: the task sees every dependency's merged work.
      if (workspace) worktree = (await workspace.prepareAttempt(taskId, attempt.n)).path;
      const response = await this.deps.providers.worker.complete({
        purpose: 'work',
        model: this.config.models.worker.model,
        system,
        prompt,
        maxTokens,
        signal: deadline.signal,
        onText: (text) => output.push(text),
        ...(worktree !== undefined && { workdir: worktree }),
      });
      this.chargeAttempt(attempt, response.usage, this.config.models.worker.model, response.costUsd);
      if (workspace) {
        await workspace.commitAttempt(taskId, attempt.n, `${task.id}: ${task.title}`);
        this.diffs.set(taskId, await workspace.diff(taskId));
      }
      attempt.output = response.text;
      attempt.outcome = 'succeeded';
      attempt.endedAt = isoAt(this.deps.clock);
      return { text: response.text };
    } catch (error) {
      attempt.endedAt = isoAt(this.deps.clock);
      if (signal.aborted) {
        attempt.outcome = this.status === 'cancelled' ? 'cancelled' : 'interrupted';
        throw new CallCancelledError('the attempt was stopped');
      }
      attempt.outcome = 'failed';
      const failure = deadline.timedOut
        ? new ModelError(
            'recoverable',
            `the attempt timed out after ${this.config.execution.worker_timeout}s`,
          )
        : error;
      attempt.error = describe(failure);
      throw failure;
    } finally {
      deadline.clear();
      output.flush();
      release();
      // Anything the agent left uncommitted is kept on the attempt branch before the worktree goes.
      if (workspace && worktree !== undefined) {
        await workspace.removeAttempt(taskId, attempt.n).catch((error: unknown) => {
          this.deps.logger.error({ err: error, runId: this.id, taskId }, 'could not remove a worktree');
        });
      }
    }
  }

  private async review(taskId: string, text: string, signal: AbortSignal): Promise<TaskReview> {
    const task = this.tasks.get(taskId)!;
    const { system, prompt } = reviewPrompt(this.context(), task, text, this.diffs.get(taskId));
    const answer = await this.callManager('review', system, prompt, TaskReview, signal);
    const parsed = TaskReview.safeParse(safeJson(answer));
    if (!parsed.success)
      throw new ModelError('recoverable', `the review of task ${taskId} did not match its schema`);
    return parsed.data;
  }

  private onWorker(event: WorkerEmitted): void {
    switch (event.type) {
      case 'worker.work_done': {
        this.callSucceeded();
        const task = this.tasks.get(event.taskId)!;
        if (task.status === 'running') this.move(task, 'task.work_done');
        break;
      }
      case 'worker.reviewed':
        this.callSucceeded();
        this.freeWorker(event.worker);
        this.onReviewed(event.taskId, event.review);
        break;
      case 'worker.attempt_failed':
        this.emit({
          type: 'task.attempt_failed',
          taskId: event.taskId,
          attempt: this.tasks.get(event.taskId)!.attempts.length,
          error: event.error,
          retryInMs: event.retryInMs,
        });
        break;
      case 'worker.gave_up': {
        this.freeWorker(event.worker);
        const task = this.tasks.get(event.taskId)!;
        if (event.error.message === 'cancelled') break;
        this.emit({
          type: 'task.attempt_failed',
          taskId: task.id,
          attempt: task.attempts.length,
          error: event.error,
        });
        if (event.pauseRun) {
          // Logged out, out of credit: every task would fail the same way. Keep the task and wait for a person.
          this.move(task, 'task.interrupt', event.error.message);
          if (this.status === 'executing') this.pause('provider', event.error.message);
          break;
        }
        this.failTask(task, `${event.error.category} error: ${event.error.message}`);
        break;
      }
      case 'worker.rate_limited':
        if (this.limit.onRateLimited()) {
          this.emit({ type: 'run.concurrency', limit: this.limit.value, reason: 'rate limited by the API' });
        }
        break;
    }
    this.save();
    this.dispatch();
  }

  /** A model call went through: the concurrency cut by rate limits may grow back. */
  private callSucceeded(): void {
    if (this.limit.onSuccess()) {
      this.emit({ type: 'run.concurrency', limit: this.limit.value, reason: 'calls succeed again' });
    }
  }

  private freeWorker(worker: number): void {
    if (!this.idle.includes(worker)) this.idle.push(worker);
  }

  private onReviewed(taskId: string, review: TaskReview): void {
    const task = this.tasks.get(taskId)!;
    if (task.status !== 'reviewing') return;
    const attempt = task.attempts.at(-1)!;
    attempt.review = review;
    this.emit({ type: 'task.reviewed', taskId, attempt: attempt.n, review, ...costOfAttempt(attempt) });
    if (review.verdict === 'accept') {
      if (this.deps.workspace) return this.mergeThenComplete(task, attempt, this.deps.workspace);
      return this.completeTask(task, attempt);
    }
    if (review.verdict === 'rework' && task.reworks < this.config.execution.max_reworks) {
      task.reworks += 1;
      this.feedback.set(taskId, review.feedback);
      this.move(task, 'task.rework', `rework: ${review.feedback}`);
      return;
    }
    this.failTask(
      task,
      review.verdict === 'rework'
        ? `still not accepted after ${task.reworks} rework${task.reworks === 1 ? '' : 's'}: ${review.feedback}`
        : `rejected by the manager: ${review.feedback}`,
    );
  }

  /**
   * Accepted work is merged into the integration branch, one task at a time. A conflict sends the task
   * back for rework on top of the new head with the conflict as feedback; past the rework bound it waits
   * for a person.
   */
  private mergeThenComplete(task: TaskRecord, attempt: Attempt, workspace: GitWorkspace): void {
    this.merging += 1;
    this.mergeQueue = this.mergeQueue.then(async () => {
      try {
        const merged = await workspace.merge(task.id, `${task.id}: ${task.title}`);
        if (task.status !== 'reviewing') return;
        if (merged.ok) return this.completeTask(task, attempt);
        const feedback = `your change conflicts with work merged meanwhile; redo it on top of the current files.\n${merged.conflict}`;
        if (task.reworks < this.config.execution.max_reworks) {
          task.reworks += 1;
          this.feedback.set(task.id, feedback);
          this.move(task, 'task.rework', `merge conflict in ${merged.files.join(', ')}`);
        } else {
          task.error = `still conflicts after ${task.reworks} reworks (${merged.files.join(', ')}); merge its branch by hand`;
          this.move(task, 'task.hold', task.error);
        }
      } catch (error) {
        this.failTask(task, `could not merge: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        this.merging -= 1;
        this.save();
        this.dispatch();
      }
    });
  }

  private completeTask(task: TaskRecord, attempt: Attempt): void {
    task.result = attempt.output ?? '';
    // The accepted output is the task's result; keeping it twice would double the run document.
    // Fields are cleared to undefined, not deleted: JSON drops them alike, and a deleted field turns a
    // record into a slow dictionary object for every later read, copy and serialisation of it.
    attempt.output = undefined;
    task.finishedAt = isoAt(this.deps.clock);
    task.worker = undefined;
    task.error = undefined;
    this.feedback.delete(task.id);
    // The journal publishes this only once it is fsynced: a task reported done is on disk.
    this.emit({
      type: 'task.completed',
      taskId: task.id,
      attempt: attempt.n,
      result: task.result,
      usage: attempt.usage,
      costUsd: attempt.costUsd,
    });
    this.move(task, 'task.accept');
    this.doc.tasksDoneSinceCheckpoint += 1;
    const every = this.config.checkpoints.every_n_tasks;
    const spacing = Math.max(every, Math.ceil(this.tasks.size / MAX_AUTO_CHECKPOINTS));
    if (every > 0 && this.doc.tasksDoneSinceCheckpoint >= spacing) void this.autoCheckpoint('progress');
  }

  private failTask(task: TaskRecord, error: string): void {
    task.error = error;
    task.finishedAt = isoAt(this.deps.clock);
    task.worker = undefined;
    this.emit({ type: 'task.failed', taskId: task.id, error });
    this.move(task, 'task.fail', error);
  }

  // ── Usage and cost ─────────────────────────────────────────────────────────────────────────────

  private chargeAttempt(attempt: Attempt, usage: Usage, model: string, reportedCost?: number): void {
    const cost = this.chargeRun(usage, model, reportedCost);
    attempt.usage = addUsage(attempt.usage, usage);
    attempt.costUsd += cost;
    this.attemptCosts.total += cost;
    this.attemptCosts.count += 1;
  }

  /** Adds a call's usage to the run; its cost as the provider reported it, else priced from the table. */
  private chargeRun(usage: Usage, model: string, reportedCost?: number): number {
    const cost = reportedCost ?? costOf(usage, this.config.models.prices[model]);
    this.doc.usage = addUsage(this.doc.usage, usage);
    this.doc.costUsd += cost;
    return cost;
  }

  // ── What users do ──────────────────────────────────────────────────────────────────────────────

  pause(reason: PauseReason = 'user', message?: string): void {
    if (this.status === 'paused') return;
    if (this.status !== 'executing') {
      throw new OrcError(
        'INVALID_STATE',
        `run ${this.id} is ${this.status}; only an executing run can be paused`,
      );
    }
    this.doc.pauseReason = reason;
    this.emit({ type: 'run.paused', reason, ...(message !== undefined && { message }) });
    this.actor.send({ type: 'run.pause' });
    this.doc.pauseReason = reason;
  }

  /** `maxCostUsd`: the run goes on within this new budget (USD) rather than past the old one. */
  resume(options: { maxCostUsd?: number } = {}): void {
    if (this.rollingBack) {
      throw new OrcError('INVALID_STATE', `run ${this.id} is rolling back; resume it once it is done`);
    }
    const { maxCostUsd } = options;
    if (this.status === 'executing' && maxCostUsd === undefined) return;
    if (this.status !== 'paused') {
      throw new OrcError(
        'INVALID_STATE',
        `run ${this.id} is ${this.status}; only a paused run can be resumed`,
      );
    }
    if (maxCostUsd !== undefined) {
      if (maxCostUsd <= this.doc.costUsd) {
        throw new OrcError(
          'INVALID_STATE',
          `run ${this.id} has spent $${this.doc.costUsd.toFixed(4)}; a budget of $${maxCostUsd} would pause it again at once: give more`,
        );
      }
      // Its own copy: the configuration object may be the daemon's, shared with other runs.
      this.config = { ...this.config, execution: { ...this.config.execution, max_cost_usd: maxCostUsd } };
      this.doc.config = this.config;
      this.doc.budgetLifted = false;
      this.emit({ type: 'run.budget_set', limitUsd: maxCostUsd });
    } else if (this.doc.pauseReason === 'budget') {
      // Resuming a run the budget paused, without a new budget, is the person's decision to spend past it.
      this.doc.budgetLifted = true;
    }
    this.save();
    this.actor.send({ type: 'run.resume' });
  }

  cancel(): void {
    if (FINISHED_RUN_STATUSES.has(this.status)) return;
    this.actor.send({ type: 'run.cancel' });
  }

  private cancelEverything(): void {
    for (const worker of this.workers) worker.send({ type: 'worker.release' });
    this.idle.length = 0;
    this.workers.forEach((_, i) => this.idle.push(i));
    for (const task of this.tasks.values()) {
      if (nextTaskStatus(task.status, 'task.cancel') !== undefined) {
        const attempt = task.attempts.at(-1);
        if (attempt?.outcome === 'running') attempt.outcome = 'cancelled';
        this.move(task, 'task.cancel');
      }
    }
  }

  /** What a person may not change right now, and why. */
  private assertChangeable(action: string): void {
    if (this.rollingBack) {
      throw new OrcError('INVALID_STATE', `run ${this.id} is rolling back; ${action} once it is done`);
    }
    if (this.status === 'reviewing') {
      throw new OrcError(
        'INVALID_STATE',
        `run ${this.id} is writing its final review; ${action} once it has finished`,
      );
    }
    if (this.closedWorkspace) {
      // The orchestrator opens it first (openWorkspace); reaching here is a bug, not a user's mistake.
      throw new OrcError('INVALID_STATE', `run ${this.id}: its repository is not open`);
    }
  }

  /**
   * The repository of a run that finished before the daemon restarted: it is not opened on restore (a
   * finished run needs none), only when a retry, skip or rollback gives the run work again.
   */
  get closedWorkspace(): RunDocument['workspace'] | undefined {
    return this.deps.workspace ? undefined : this.doc.workspace;
  }

  openWorkspace(workspace: GitWorkspace): void {
    this.deps.workspace = workspace;
  }

  retryTask(taskId: string): void {
    this.assertChangeable('retry the task');
    const task = this.task(taskId);
    if (nextTaskStatus(task.status, 'task.retry') === undefined) {
      throw new OrcError(
        'INVALID_STATE',
        `task ${taskId} is ${task.status}; only a failed, blocked, skipped or cancelled task can be retried`,
      );
    }
    if (this.status === 'cancelled')
      throw new OrcError('INVALID_STATE', `run ${this.id} was cancelled; start a new run`);
    task.error = undefined;
    task.held = undefined;
    if (this.doc.heldTasks) delete this.doc.heldTasks[taskId];
    task.reworks = 0;
    this.feedback.delete(taskId);
    this.move(task, 'task.retry');
    if ((this.waitingOn.get(taskId) ?? 0) === 0) this.move(task, 'task.unblocked');
    this.reopenIfFinished();
    this.save();
    this.dispatch();
  }

  skipTask(taskId: string): void {
    this.assertChangeable('skip the task');
    const task = this.task(taskId);
    if (nextTaskStatus(task.status, 'task.skip') === undefined) {
      throw new OrcError(
        'INVALID_STATE',
        `task ${taskId} is ${task.status}; a running or finished task cannot be skipped`,
      );
    }
    this.move(task, 'task.skip');
    // Skipping what made a run fail lets its dependents go on.
    this.reopenIfFinished();
    this.save();
    this.dispatch();
  }

  /** A finished run given more work (a retry, a rollback) waits paused, then resumes. */
  private reopenIfFinished(): void {
    if (this.status === 'completed' || this.status === 'failed') {
      delete this.doc.finishedAt;
      delete this.doc.error;
      delete this.doc.finalReview;
      this.actor.send({ type: 'run.reopen' });
      this.actor.send({ type: 'run.resume' });
    }
  }

  taskRecord(taskId: string): TaskRecord {
    return this.task(taskId);
  }

  private task(taskId: string): TaskRecord {
    const task = this.tasks.get(taskId);
    if (!task)
      throw new OrcError(
        'TASK_NOT_FOUND',
        `run ${this.id} has no task ${taskId}; orc show ${this.id} lists them`,
      );
    return task;
  }

  // ── Checkpoints ────────────────────────────────────────────────────────────────────────────────

  async checkpoint(reason: CheckpointInfo['reason'], label?: string): Promise<CheckpointInfo> {
    const { workspace } = this.deps;
    // The integration commit is read in the merge queue, so the state saved with it matches it.
    let commit: string | undefined;
    if (workspace) {
      const read = this.mergeQueue.then(() => workspace.head());
      this.mergeQueue = read.then(
        () => undefined,
        () => undefined,
      );
      commit = await read;
    }
    const info: CheckpointInfo = {
      id: `cp${this.doc.checkpoints.length + 1}`,
      runId: this.id,
      ...(label !== undefined && { label }),
      createdAt: isoAt(this.deps.clock),
      reason,
      tasksDone: this.countOf('done'),
      lastEventId: this.journal.lastId,
      ...(workspace && commit !== undefined && { files: { branch: workspace.branch, commit } }),
    };
    this.doc.checkpoints.push(info);
    this.doc.tasksDoneSinceCheckpoint = 0;
    // The store serialises the document before its first await: the state of this instant.
    const write = this.deps.store.writeCheckpoint(info, this.toDocument());
    this.checkpointWrites.add(write);
    try {
      await write;
    } finally {
      this.checkpointWrites.delete(write);
    }
    this.emit({ type: 'checkpoint.created', checkpoint: info });
    this.save();
    return info;
  }

  private async autoCheckpoint(reason: 'planned' | 'progress'): Promise<void> {
    if (this.config.checkpoints.every_n_tasks === 0 && reason === 'progress') return;
    try {
      await this.checkpoint(reason);
    } catch (error) {
      this.deps.logger.error({ err: error, runId: this.id }, 'automatic checkpoint failed');
    }
  }

  listCheckpoints(): CheckpointInfo[] {
    return [...this.doc.checkpoints];
  }

  async rollback(
    checkpointId: string,
    strategy: RollbackStrategy,
    taskIds: string[] | undefined,
  ): Promise<void> {
    if (!this.doc.checkpoints.some((c) => c.id === checkpointId)) {
      throw new OrcError(
        'CHECKPOINT_NOT_FOUND',
        `run ${this.id} has no checkpoint ${checkpointId}; orc checkpoint ${this.id} --list shows them`,
      );
    }
    if (this.status === 'analyzing' || this.status === 'cancelled') {
      throw new OrcError('INVALID_STATE', `run ${this.id} is ${this.status}; it cannot be rolled back`);
    }
    this.assertChangeable('roll it back');
    if (strategy === 'selective' && (!taskIds || taskIds.length === 0)) {
      throw new OrcError('INVALID_STATE', 'a selective rollback needs --tasks with the tasks to reset');
    }
    for (const id of taskIds ?? []) this.task(id);
    this.rollingBack = true;
    try {
      await this.rollbackTo(checkpointId, strategy, taskIds);
    } finally {
      this.rollingBack = false;
    }
  }

  private async rollbackTo(
    checkpointId: string,
    strategy: RollbackStrategy,
    taskIds: string[] | undefined,
  ): Promise<void> {
    await Promise.allSettled([...this.checkpointWrites]);
    const saved = await this.deps.store.readCheckpoint(this.id, checkpointId);
    // Stop what is in flight; its tasks go back to the queue.
    if (this.status === 'executing') this.pause('user', `rolling back to ${checkpointId}`);
    this.interruptWorkers();
    await this.checkpoint('before-rollback', `before rollback to ${checkpointId}`);
    await this.rollbackFiles(checkpointId, strategy, taskIds ?? []);
    const { tasks, reset } = applyRollback(strategy, [...this.tasks.values()], saved.tasks, taskIds ?? []);
    this.tasks.clear();
    for (const task of tasks) this.tasks.set(task.id, task);
    if (strategy === 'full') this.doc.planSummary = saved.planSummary;
    this.doc.tasksDoneSinceCheckpoint = 0;
    // Announced first: a client resets those tasks, then folds the statuses the rebuild emits.
    this.emit({ type: 'run.rolled_back', checkpointId, strategy, resetTasks: reset });
    this.rebuildGraph();
    if (this.status === 'completed' || this.status === 'failed') {
      delete this.doc.finishedAt;
      delete this.doc.error;
      delete this.doc.finalReview;
      this.actor.send({ type: 'run.reopen' });
    }
    this.doc.pauseReason = 'user';
    this.save();
    await this.deps.store.flush(this.id);
  }

  /**
   * The repository side of a rollback: full resets the integration branch to the checkpoint's commit,
   * selective reverts the merges of the named tasks and everything downstream; partial leaves files alone.
   */
  private async rollbackFiles(
    checkpointId: string,
    strategy: RollbackStrategy,
    named: string[],
  ): Promise<void> {
    const { workspace } = this.deps;
    if (!workspace || strategy === 'partial') return;
    await this.mergeQueue;
    if (strategy === 'full') {
      const files = this.doc.checkpoints.find((c) => c.id === checkpointId)?.files;
      if (files) await workspace.resetTo(files.commit);
      return;
    }
    const downstream = downstreamOf([...this.tasks.values()], named);
    const merged = [...downstream].filter((id) => this.tasks.get(id)?.status === 'done');
    const reverted = await workspace.revertTasks(merged);
    if (!reverted.ok) {
      throw new OrcError(
        'INVALID_STATE',
        `cannot revert task ${reverted.taskId}: later work conflicts with it (${reverted.conflict.split('\n')[0]}); roll back with --strategy full instead`,
      );
    }
  }

  private interruptWorkers(): void {
    for (const [index, worker] of this.workers.entries()) {
      if (this.idle.includes(index)) continue;
      worker.send({ type: 'worker.release' });
      this.freeWorker(index);
    }
    for (const task of this.tasks.values()) {
      if (task.status === 'running' || task.status === 'reviewing') {
        const attempt = task.attempts.at(-1);
        if (attempt?.outcome === 'running') attempt.outcome = 'interrupted';
        delete task.worker;
        this.move(task, 'task.interrupt');
      }
    }
  }

  // ── Views, persistence, shutdown ───────────────────────────────────────────────────────────────

  private emit(event: NewEvent): OrcEvent {
    return this.journal.emit(event);
  }

  events(afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent> {
    return this.journal.events(afterId, signal);
  }

  /** `hook` is awaited before the run's final review, after every event so far is published. */
  beforeFinish(hook: () => Promise<void>): void {
    this.settleHooks.add(hook);
  }

  /** Calls `listener` with every event once it is durable, from now on. */
  onEvent(listener: (event: OrcEvent) => void): () => void {
    return this.journal.subscribe(listener);
  }

  get source(): RunDocument['source'] {
    return this.doc.source;
  }

  private context(): string {
    return runContext(this.doc.goal, this.doc.planSummary);
  }

  private save(): void {
    this.doc.updatedAt = isoAt(this.deps.clock);
    this.deps.store.scheduleSave(this.id, () => this.toDocument());
  }

  private toDocument(): RunDocument {
    return {
      ...this.doc,
      status: this.status,
      tasks: [...this.tasks.values()],
      runSnapshot: this.closedSnapshot ?? this.actor?.getPersistedSnapshot(),
      lastEventId: this.journal.lastId,
    };
  }

  summary(): RunSummary {
    const taskCounts: Record<string, number> = {};
    for (const [status, count] of this.counts) if (count > 0) taskCounts[status] = count;
    return {
      id: this.id,
      goal: this.doc.goal,
      status: this.status,
      ...(this.doc.pauseReason !== undefined &&
        this.status === 'paused' && { pauseReason: this.doc.pauseReason }),
      models: this.doc.models,
      maxWorkers: this.config.execution.max_workers,
      createdAt: this.doc.createdAt,
      updatedAt: this.doc.updatedAt,
      ...(this.doc.finishedAt !== undefined && { finishedAt: this.doc.finishedAt }),
      taskCounts,
      taskTotal: this.tasks.size,
      usage: this.doc.usage,
      costUsd: this.doc.costUsd,
      ...(this.doc.error !== undefined && { error: this.doc.error }),
      lastEventId: this.journal.lastId,
    };
  }

  /** The run for a client; without `full`, results and outputs are left out (10,000 of them are megabytes). */
  view(full = false): RunView {
    return {
      ...this.summary(),
      ...(this.doc.planSummary !== undefined && { planSummary: this.doc.planSummary }),
      tasks: full ? [...this.tasks.values()] : [...this.tasks.values()].map(withoutOutputs),
      ...(this.doc.finalReview !== undefined && { finalReview: this.doc.finalReview }),
      busyWorkers: this.busyWorkers,
    };
  }

  /** Resolves when the run has finished, or paused for a reason a person must act on. */
  async settled(signal?: AbortSignal): Promise<RunSummary> {
    const done = () =>
      FINISHED_RUN_STATUSES.has(this.status) || (this.status === 'paused' && this.doc.pauseReason !== 'user');
    while (!done()) {
      if (signal?.aborted) throw signal.reason;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.statusWaiters.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.statusWaiters.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
    await this.journal.drain();
    return this.summary();
  }

  /**
   * Daemon shutdown: no new dispatch; in-flight attempts get `graceMs` to finish, then are aborted (they
   * run again as new attempts after restart); everything is persisted.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const deadline = this.deps.clock.now() + graceMs;
    while (this.busyWorkers > 0 && this.deps.clock.now() < deadline) await this.deps.clock.sleep(20);
    // Abort what is left; the document is saved while the run actor still runs, so it restores running.
    for (const worker of this.workers) worker.stop();
    // Accepted work being merged has freed its worker already; it must land before the state is saved.
    await this.mergeQueue;
    await Promise.allSettled([...this.checkpointWrites]);
    await this.journal.drain();
    this.save();
    await this.deps.store.flush(this.id);
    this.journal.close();
    this.closedSnapshot = this.actor.getPersistedSnapshot();
    this.actor.stop();
  }
}

/**
 * The task without its result and attempt outputs. Set to undefined rather than left out with a rest
 * pattern: the wire drops them all the same, and copying 10,000 records goes 5–10× faster.
 */
function withoutOutputs(task: TaskRecord): TaskRecord {
  return {
    ...task,
    result: undefined,
    attempts: task.attempts.map((attempt) => ({ ...attempt, output: undefined })),
  };
}

/** The task's attempt number `n`; one begun in the journal only is added, as running. */
function attemptOf(task: TaskRecord, n: number, worker: number, at: string): Attempt {
  let attempt = task.attempts.find((a) => a.n === n);
  if (attempt === undefined) {
    attempt = { n, worker, startedAt: at, outcome: 'running', usage: ZERO_USAGE, costUsd: 0 };
    task.attempts.push(attempt);
    task.attempts.sort((a, b) => a.n - b.n);
  }
  return attempt;
}

const FINISHED_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set(['done', 'failed', 'skipped']);

function specOf(task: TaskRecord): TaskSpec {
  return {
    id: task.id,
    title: task.title,
    description: task.description,
    dependencies: task.dependencies,
    priority: task.priority,
    ...(task.details !== undefined && { details: task.details }),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(error: unknown): { category: 'transient' | 'recoverable' | 'permanent'; message: string } {
  if (error instanceof ModelError) return { category: error.category, message: error.message };
  return { category: 'permanent', message: error instanceof Error ? error.message : String(error) };
}
