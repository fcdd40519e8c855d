import {
  FINISHED_RUN_STATUSES,
  OrcError,
  ZERO_USAGE,
  storedConfig,
  type CheckpointInfo,
  type NewEvent,
  type OrcEvent,
  type PauseReason,
  type ResolvedConfig,
  type RunForecast,
  type RunStatus,
  type RunSummary,
  type RunView,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
  type TaskSpec,
} from '@orc/shared';
import type { Logger } from 'pino';
import { createActor, waitFor, type Actor, type AnyActorRef } from 'xstate';
import { isoAt, type Clock } from '../clock.js';
import type { RollbackPlan, RunEvent, runMachine, RunSnapshot } from '../actors/run.machine.js';
import type { ModelProvider } from '../model/provider.js';
import type { EventBatchText } from './event-batch-text.js';
import type { AttemptBackend } from './attempt-backend.js';
import type { Random } from '../model/seeded-random.js';
import { runContext } from '../model/prompts.js';
import type { QuotaGovernor, QuotaWait } from '../quota/quota-governor.js';
import { runSetupOf, type KeptRunDocument, type RunDocument } from '../store/run-document.js';
import type { RunDocumentToWrite } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import type { PermissionDesk } from '../inbox/permission-desk.js';
import { ManagerCalls } from './manager-calls.js';
import { RunBudget } from './run-budget.js';
import { RunCheckpoints } from './run-checkpoints.js';
import { RunIdle } from './run-idle.js';
import { RunJournal, type FollowOptions, type JournalObserver } from './run-journal.js';
import { provideRunMachine } from './run-behaviour.js';
import { onDisk, pageOf, summaryOf, viewOf, withUnconfirmed } from './run-view.js';
import { forecastOf, viewSourceOf } from './run-view-source.js';
import { RunSpendTeller } from './run-spend.js';
import { RunScheduler, type SchedulerHost } from './run-scheduler.js';
import type { SourceGuard } from './source-guard.js';
import type { TaskSet } from './task-set.js';

export interface RunDeps {
  store: RunStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The daemon's one admission controller: quotas and the cap on model calls in flight, for every run. */
  governor: QuotaGovernor;
  providers: { manager: ModelProvider; worker: ModelProvider };
  /** Where attempts are made when not in the daemon (`execution.backend: "redis"`). */
  backend?: AttemptBackend;
  /** First backoff step between retries (ms); tests make it small. */
  retryBaseMs: number;
  /** The repository claude-code workers edit, one worktree per attempt; absent for runs that only talk. */
  workspace?: GitWorkspace;
  /** The orchestrator actor: the run actor is its child. */
  parent?: AnyActorRef;
  /** Where imported tasks came from (Task Master), asked before each task starts. */
  source?: SourceGuard;
  /** The daemon's metrics, told of every journal write and live delivery. */
  metrics?: JournalObserver;
  /** Where an agent's tool call outside its rules is put to a person (the daemon's inbox). */
  permissions?: PermissionDesk;
}

/**
 * One run: the run actor and the parts its states drive. The run machine (actors/run.machine.ts) holds
 * the run's state; `run-behaviour.ts` gives it its actions and actors; the parts hold the rest: the task
 * actors and records (TaskSet), who waits on whom and what is ready (TaskGraph), the workers
 * (WorkerPool), the spend (RunBudget), the journal, the checkpoints, and accepted work being merged.
 */
export class Run implements SchedulerHost {
  readonly scheduler: RunScheduler;
  /** The run's tasks (the scheduler's): records, and actors for the live ones. */
  readonly tasks: TaskSet;
  readonly budget: RunBudget;
  readonly journal: RunJournal;
  readonly checkpoints: RunCheckpoints;
  readonly manager: ManagerCalls;
  /** Hooks awaited before the final review, once every event so far is published (write-backs). */
  readonly settleHooks = new Set<() => Promise<void>>();
  actor!: Actor<typeof runMachine>;
  /** What the run last announced: its status, and why it is paused. */
  status: RunStatus;
  private readonly idle: RunIdle;
  pauseReason: PauseReason | undefined;
  /** The snapshot saved once the run is closing: the state it was in, never `closing` itself. */
  private closingSnapshot: unknown;
  private readonly statusWaiters = new Set<() => void>();
  /** The rollback being made ready, for the person who asked for it to hear how it ended. */
  rollingBack: Promise<RollbackPlan> | undefined;
  /** How long in-flight work may go on once the daemon stops. */
  graceMs = 0;
  /** Tells the run's totals with the first event after they changed. */
  private readonly spend: RunSpendTeller;
  /** The stable prompt prefix, made once per plan (see `context`). */
  private contextCache: { key: string; text: string } | undefined;

  private constructor(
    readonly deps: RunDeps,
    readonly doc: RunDocument,
    public config: ResolvedConfig,
    lastEventId: number,
  ) {
    this.status = doc.status;
    this.idle = new RunIdle(doc);
    this.pauseReason = doc.pauseReason;
    this.spend = new RunSpendTeller(doc, deps.clock);
    const { store, clock, logger } = deps;
    this.journal = new RunJournal(doc.id, lastEventId, store, clock, logger, deps.metrics);
    this.budget = new RunBudget(
      doc,
      config.execution.max_cost_usd,
      (model) => this.config.models.prices[model],
      config.execution.max_task_cost_usd,
    );
    const emit = (event: NewEvent) => this.emit(event);
    this.manager = new ManagerCalls({
      runId: doc.id,
      provider: deps.providers.manager,
      governor: deps.governor,
      onQuotaWait: (wait) => this.quotaWait(wait),
      clock,
      budget: this.budget,
      config: () => this.config,
      context: () => this.context(),
    });
    this.scheduler = new RunScheduler(this, this.manager);
    this.tasks = this.scheduler.tasks;
    this.checkpoints = new RunCheckpoints({
      runId: doc.id,
      store,
      clock,
      logger,
      merges: this.scheduler.merges,
      doc,
      config: () => this.config,
      workspace: () => this.deps.workspace,
      toDocument: () => this.document(this.tasks.stored()),
      tasksDone: () => this.scheduler.graph.count('done'),
      taskTotal: () => this.tasks.size,
      lastEventId: () => this.journal.lastId,
      emit,
      save: () => this.save(),
    });
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
      // Without its secrets: the document is copied into checkpoints and its config sent to clients.
      config: storedConfig(config),
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
    run.adoptTasks();
    run.emit(
      {
        type: 'run.created',
        goal: init.goal,
        models: doc.models,
        maxWorkers: config.execution.max_workers,
        // With its setup, the journal alone can rebuild the run when its document and checkpoints are lost.
        setup: runSetupOf(doc),
      },
      now,
    );
    run.start(undefined, init.imported);
    return run;
  }

  /** Brings a persisted run back, caught up with its journal (see restore-run.ts). */
  static async fromDocument(deps: RunDeps, doc: KeptRunDocument, config: ResolvedConfig): Promise<Run> {
    const journalLast = (await deps.store.lastEvent(doc.id))?.id ?? 0;
    // Its tasks, settled ones as text, are handed over by `adoptTasks`.
    return new Run(deps, { ...doc, tasks: [] }, config, Math.max(doc.lastEventId, journalLast));
  }

  /**
   * The document's task records become the run's (TaskSet's), and the document lets go of them: it is
   * the run's other fields from now on, and `toDocument` puts the current records in. Kept, the records
   * as they were loaded or imported stayed in memory beside the current ones: 45 MB at 100,000 tasks.
   */
  adoptTasks(tasks: KeptRunDocument['tasks'] = this.doc.tasks): void {
    this.tasks.replaceAll(tasks);
    this.doc.tasks = [];
  }

  /** Starts the run actor, from its persisted snapshot when there is one. */
  start(snapshot: unknown, imported: TaskSpec[] | undefined): void {
    const input = {
      runId: this.id,
      goal: this.doc.goal,
      imported,
      maxRepairs: 2,
      maxRetries: this.config.execution.max_retries,
    };
    this.actor = createActor(provideRunMachine(this), {
      id: this.id,
      ...(this.deps.parent && { parent: this.deps.parent }),
      input,
      ...(snapshot !== undefined && snapshot !== null ? { snapshot: snapshot as never } : {}),
    });
    this.actor.subscribe({
      next: () => this.changed(),
      error: (error) => this.deps.logger.error({ err: error, runId: this.id }, 'run actor failed'),
    });
    this.actor.start();
    // XState keeps an actor's input for the actor's life; the imported tasks (100,000 specs: 10 MB) are
    // in its context now, which lets go of them once they are planned.
    input.imported = undefined;
    // A restore does not re-run entry actions: a run restored executing starts its work here.
    if (this.actor.getSnapshot().matches('executing')) this.scheduler.startWork();
  }

  // ── Views, persistence, shutdown ─────────────────────────────────────────────────────────────────

  /**
   * Journals an event (with the run's totals when they changed); `at` is the time a change it tells was
   * stamped with, so a record and the event that tells of it agree.
   */
  emit(event: NewEvent, at?: string): OrcEvent {
    const told = this.journal.emit(
      this.spend.tell(event, () => this.forecast()),
      at,
    );
    this.doc.updatedAt = told.at;
    this.idle.follow(told);
    return told;
  }

  send(event: RunEvent): void {
    this.actor.send(event);
  }

  isExecuting(): boolean {
    return this.actor.getSnapshot().matches('executing');
  }

  isClosing(): boolean {
    return this.actor.getSnapshot().matches('closing');
  }

  storageFailure(): string | undefined {
    return this.journal.failure;
  }

  taskDone(): void {
    this.checkpoints.taskDone();
  }

  /** The run's events after `afterId` in batches, one per group commit once live (see RunJournal). */
  eventBatches(afterId: number, signal: AbortSignal, follow?: FollowOptions): AsyncIterable<EventBatchText> {
    return this.journal.eventBatches(afterId, signal, follow);
  }

  /** Calls `listener` with every event once it is durable, from now on. */
  onEvent(listener: (event: OrcEvent) => void): () => void {
    return this.journal.subscribe(listener);
  }

  /** `hook` is awaited before the run's final review, after every event so far is published. */
  beforeFinish(hook: () => Promise<void>): void {
    this.settleHooks.add(hook);
  }

  /**
   * The run's stable prompt context: the goal and the plan (every task's id, title and description). The
   * same text in every worker and review call, so the API serves it from its cache; made once per plan.
   */
  context(): string {
    const key = `${this.tasks.size}\u0000${this.tasks.revision}\u0000${this.doc.planSummary ?? ''}`;
    if (this.contextCache?.key !== key)
      this.contextCache = {
        key,
        // Read lazily: the prefix is cut short long before 100,000 tasks, whose records a restore would parse (0.2 s).
        text: runContext(this.doc.goal, this.doc.planSummary, this.tasks.values(), this.tasks.size),
      };
    return this.contextCache.text;
  }

  /**
   * A call will wait a minute or more for its quota: an executing run pauses until then and goes on by
   * itself (the call keeps its place with the governor). A run a person paused stays as it is; a run
   * planning or writing its final review just waits.
   */
  quotaWait(wait: QuotaWait): void {
    if (!this.isExecuting()) return;
    const at = new Date(wait.until).toISOString();
    this.send({
      type: 'run.quota_wait',
      until: wait.until,
      model: wait.model,
      message: `the quota of ${wait.model} is used up (${wait.reason}); the run goes on by itself at ${at}`,
    });
  }

  /** The run actor's snapshot changed: whoever waits for the run to settle looks again. */
  private changed(): void {
    this.save();
    for (const wake of this.statusWaiters) wake();
  }

  save(): void {
    // A save hands over the tasks changed since the last one, not every task of the run.
    this.deps.store.scheduleSave(this.id, () => this.document(this.tasks.changes()));
  }

  private document<T>(tasks: T): Omit<RunDocumentToWrite, 'tasks'> & { tasks: T } {
    return {
      ...this.doc,
      status: this.status,
      ...(this.pauseReason !== undefined && { pauseReason: this.pauseReason }),
      tasks,
      runSnapshot: this.closingSnapshot ?? this.actor?.getPersistedSnapshot(),
      lastEventId: this.journal.lastId,
    };
  }

  /** Where the run is heading (cost, finish time), while it is live. */
  forecast(): RunForecast | undefined {
    return forecastOf(this);
  }

  /** A task is shown done once its completion is on disk; until then it is still being reviewed. */
  summary(): RunSummary {
    return summaryOf(viewSourceOf(this, this.journal.unconfirmedDone()));
  }

  /** The run as far as the disk has it, at once (see `summary`), for the daemon's own use. */
  view(full = false): RunView {
    return viewOf(viewSourceOf(this, this.journal.unconfirmedDone()), full);
  }

  /** The run for a client, who then follows its events from the view's `lastEventId` (see `onDisk`). */
  clientView(full = false): Promise<RunView> {
    return onDisk(
      this.journal,
      (unconfirmed) => withUnconfirmed(viewOf(viewSourceOf(this, unconfirmed), full), unconfirmed),
      // Its counts tell every task's status.
      () => true,
    );
  }

  /** A page of the task table (see `tasks.page`), for a client as `clientView`. */
  taskPage(query: TaskQuery): Promise<TaskPage> {
    return onDisk(
      this.journal,
      (unconfirmed) => withUnconfirmed(pageOf(viewSourceOf(this, unconfirmed), query), unconfirmed),
      // Its rows, and with a status asked for, how many tasks have it.
      (page, unconfirmed) =>
        query.status !== undefined || page.tasks.some((task) => unconfirmed.has(task.id)),
    );
  }

  taskRecord(taskId: string): TaskRecord {
    const task = this.tasks.get(taskId);
    if (!task)
      throw new OrcError(
        'TASK_NOT_FOUND',
        `run ${this.id} has no task "${taskId}"; orc show ${this.id} lists them`,
      );
    return task;
  }

  listCheckpoints(): CheckpointInfo[] {
    return this.checkpoints.list();
  }

  /** Resolves when the run has finished, or paused for a reason a person must act on. */
  async settled(signal?: AbortSignal): Promise<RunSummary> {
    // A run that goes on by itself (a quota with a known reset, a disk that takes writes again) does not
    // wait for a person.
    const waitsForAPerson = () =>
      this.pauseReason === 'budget' ||
      this.pauseReason === 'provider' ||
      this.pauseReason === 'source' ||
      this.pauseReason === 'verify' ||
      this.pauseReason === 'held' ||
      (this.pauseReason === 'quota' && this.doc.resumeAt === undefined);
    const done = () =>
      FINISHED_RUN_STATUSES.has(this.status) ||
      this.status === 'awaiting_approval' ||
      (this.status === 'paused' && waitsForAPerson());
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
   * run again as new attempts after restart); everything is persisted in the state the run was in.
   */
  async close(graceMs: number): Promise<void> {
    this.graceMs = graceMs;
    this.closingSnapshot = this.actor.getPersistedSnapshot();
    if (this.actor.getSnapshot().status === 'done') {
      // A cancelled run's actor is over already: only its files are left to close.
      await this.drain();
      return;
    }
    this.actor.send({ type: 'run.close' });
    await waitFor(this.actor, (s: RunSnapshot) => s.status === 'done');
  }

  /** The `closing` state's work: in-flight work gets its grace, then everything is stopped and saved. */
  async drain(): Promise<void> {
    const { clock, store } = this.deps;
    const deadline = clock.now() + this.graceMs;
    const { pool, merges } = this.scheduler;
    while (pool.busy > 0 && clock.now() < deadline) await clock.sleep(20);
    pool.stop();
    // A verify can take minutes: it is killed, and its tasks are merged and verified again on restore.
    await this.scheduler.train?.stop();
    this.tasks.stopAll();
    // Accepted work being merged has freed its worker already; it must land before the state is saved.
    await merges.idle();
    await this.checkpoints.written();
    // Events not on disk yet get what is left of the grace: a disk that takes no writes does not hold
    // the daemon up. What cannot be written is dropped, and then so is the document that reflects it.
    await this.journal.close(Math.max(0, deadline - clock.now()));
    this.save();
    await store
      .flush(this.id)
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, runId: this.id },
          'the run document was not written on close; its journal holds what happened',
        ),
      );
  }

  /**
   * What a person may not change right now, and why. The final review takes a change (a change that
   * gives work reopens the run); the settling before it does not, and is waited out first (`untilSettled`).
   */
  assertChangeable(action: string): void {
    const state = this.actor.getSnapshot();
    if (state.matches('rollingBack'))
      throw new OrcError('INVALID_STATE', `run ${this.id} is rolling back; ${action} once it is done`);
    if (state.matches('settling'))
      throw new OrcError(
        'INVALID_STATE',
        `run ${this.id} is landing its last work before its final review; ${action} once it has landed`,
      );
    if (this.closedWorkspace)
      // The orchestrator opens it first (openWorkspace); reaching here is a bug, not a user's mistake.
      throw new OrcError('INVALID_STATE', `run ${this.id}: its repository is not open`);
  }

  /**
   * The repository of a run that finished before the daemon restarted: it is not opened on restore (a
   * finished run needs none), only when a retry, skip or rollback gives the run work again.
   */
  get closedWorkspace(): RunDocument['workspace'] | undefined {
    return this.deps.workspace ? undefined : this.doc.workspace;
  }

  /** The repository the run's workers edit, open or not. */
  get workdir(): string | undefined {
    return this.doc.workspace?.workdir;
  }

  openWorkspace(workspace: GitWorkspace): void {
    this.deps.workspace = workspace;
  }

  get source(): RunDocument['source'] {
    return this.doc.source;
  }

  /**
   * Announces a new status (and pause reason) once, with the events a client folds; `resumeAt` (epoch
   * ms) is when a quota pause ends by itself.
   */
  announce(
    status: RunStatus,
    reason?: PauseReason,
    message?: string,
    resumeAt?: number,
    model?: string,
  ): void {
    const previous = this.status;
    const at = status === 'paused' && resumeAt !== undefined ? new Date(resumeAt).toISOString() : undefined;
    // A quota wait that moved to a new end is announced again: its time is what a person sees.
    if (status === previous && reason === this.pauseReason && at === this.doc.resumeAt) return;
    const quotaModel = status === 'paused' && reason === 'quota' ? model : undefined;
    if (status === 'paused') {
      this.emit({
        type: 'run.paused',
        reason: reason ?? 'user',
        ...(message !== undefined && { message }),
        ...(at !== undefined && { resumeAt: at }),
        ...(quotaModel !== undefined && { model: quotaModel }),
      });
    }
    if (FINISHED_RUN_STATUSES.has(previous) && !FINISHED_RUN_STATUSES.has(status)) {
      // Reopened (a retry, a skip, a rollback): how it ended no longer holds.
      delete this.doc.finishedAt;
      delete this.doc.error;
      delete this.doc.finalReview;
    }
    if (quotaModel === undefined) delete this.doc.quotaModel;
    else this.doc.quotaModel = quotaModel;
    this.status = status;
    this.pauseReason = status === 'paused' ? (reason ?? 'user') : undefined;
    this.doc.status = status;
    if (this.pauseReason === undefined) delete this.doc.pauseReason;
    else this.doc.pauseReason = this.pauseReason;
    if (at === undefined) delete this.doc.resumeAt;
    else this.doc.resumeAt = at;
    if (status !== previous) this.emit({ type: 'run.status', status });
    if (previous === 'paused' && status === 'executing') this.emit({ type: 'run.resumed' });
  }
}
