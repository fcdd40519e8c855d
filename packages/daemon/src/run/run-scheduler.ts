import {
  MAX_TOUCHES,
  ZERO_USAGE,
  withReviewCharge,
  describeSourceChange,
  runIdleMs,
  type NewEvent,
  type PauseReason,
  type ResolvedConfig,
  type RunStatus,
  type SourceChange,
  type TaskRecord,
  type TaskReview,
  type Usage,
  nextAttemptNumber,
} from '@orc/shared';
import { isoAt } from '../clock.js';
import type { RunEvent } from '../actors/run.machine.js';
import { awaitsReview, taskMachine } from '../actors/task.machine.js';
import type { WorkerEmitted } from '../actors/worker.machine.js';
import { TaskGraph } from '../scheduling/task-graph.js';
import { WorkerPool } from '../scheduling/worker-pool.js';
import { changedFiles } from '../workspace/changed-files.js';
import { recordOfTask, type RunDocument } from '../store/run-document.js';
import { AttemptRunner } from './attempt-runner.js';
import { localBackend } from './attempt-backend.js';
import { BudgetGate } from './budget-gate.js';
import { cancelledTasks, heldMessage } from './held-by-person.js';
import type { ManagerCalls } from './manager-calls.js';
import type { QuotaWait } from '../quota/quota-governor.js';
import { MergeQueue } from './merge-queue.js';
import { MergeTrain } from './merge-train.js';
import type { RunBudget } from './run-budget.js';
import { RunForecaster } from './run-forecast.js';
import type { RunDeps } from './run.js';
import type { SourceGuard } from './source-guard.js';
import { TaskSet, type TaskMove } from './task-set.js';

/** What the scheduler needs of its run. */
export interface SchedulerHost {
  readonly id: string;
  readonly deps: RunDeps;
  readonly doc: RunDocument;
  readonly config: ResolvedConfig;
  readonly budget: RunBudget;
  /** What the run last announced: its status, and why it is paused. */
  readonly status: RunStatus;
  readonly pauseReason: PauseReason | undefined;
  /** `at`: the time the change the event tells was stamped with. */
  emit(event: NewEvent, at?: string): void;
  /** Tells the run actor (settled, budget reached, provider refused). */
  send(event: RunEvent): void;
  isExecuting(): boolean;
  /** Why the run's journal cannot be written, while it cannot: no journal, no progress. */
  storageFailure(): string | undefined;
  /** The daemon is stopping the run. */
  isClosing(): boolean;
  save(): void;
  /** The run's stable prompt context: the goal and the plan. */
  context(): string;
  /** A task is done (the checkpoints count them). */
  taskDone(): void;
  /** A call will wait a minute or more for its quota: the run pauses until then. */
  quotaWait(wait: QuotaWait): void;
}

/**
 * What a run does with its tasks: it hands ready tasks to its workers, best first, within its cap and its
 * budget; it follows each task's moves (announcing them, freeing dependents, merging accepted work in a
 * repository); and it tells the run actor when nothing is left in flight.
 */
export class RunScheduler {
  readonly tasks: TaskSet;
  readonly graph: TaskGraph;
  readonly pool: WorkerPool;
  readonly merges = new MergeQueue();
  /** Present when `integration.verify` is set: accepted work lands only once it passes. */
  readonly train: MergeTrain | undefined;
  readonly attempts: AttemptRunner;
  readonly forecaster: RunForecaster;
  /** Tasks whose source is being asked before they start; each keeps a worker for itself meanwhile. */
  private claiming = 0;
  /** What the tasks handed to workers were reserved at: one starts only if it fits the budget. */
  private readonly gate: BudgetGate;

  constructor(
    private readonly host: SchedulerHost,
    manager: ManagerCalls,
  ) {
    const { deps } = host;
    // The pace is of the run's working time: its pauses are not (read as it goes: a rollback moves them).
    this.forecaster = new RunForecaster((now) => runIdleMs(host.doc, now));
    this.tasks = new TaskSet(
      taskMachine.provide({
        guards: {
          canRework: ({ context }) => context.reworks < host.config.execution.max_reworks,
          mergesWork: () => host.deps.workspace !== undefined,
        },
      }),
      (move) => this.onMove(move),
    );
    this.graph = new TaskGraph((id) => this.tasks.statusOf(id));
    this.train = host.config.integration.verify === undefined ? undefined : this.makeTrain();
    this.attempts = new AttemptRunner({
      runId: host.id,
      closing: () => host.isClosing(),
      provider: deps.providers.worker.name,
      backend: deps.backend ?? localBackend(deps.providers.worker, deps.governor),
      onQuotaWait: (wait) => host.quotaWait(wait),
      clock: deps.clock,
      logger: deps.logger,
      budget: host.budget,
      agentBudget: (id) => this.gate.handOut(id, Math.min(this.pool.free, this.graph.readyCount)),
      tasks: this.tasks,
      config: () => host.config,
      context: () => host.context(),
      emit: (event, at) => host.emit(event, at),
      workspace: () => host.deps.workspace,
      ...(deps.permissions && { permissions: deps.permissions }),
    });
    this.gate = new BudgetGate(
      host,
      (id) => this.tasks.statusOf(id),
      (id) => this.attempts.nextCall(id),
    );
    this.pool = new WorkerPool({
      size: host.config.execution.max_workers,
      maxRetries: host.config.execution.max_retries,
      clock: deps.clock,
      random: deps.random,
      retryBaseMs: deps.retryBaseMs,
      calls: {
        work: (input, signal) => this.attempts.work(input.taskId, input.worker, input.maxTokens, signal),
        review: async (input, signal) => {
          const task = this.tasks.get(input.taskId)!;
          const answer = await manager.review(task, input.text, task.attempts.at(-1)?.diff, signal);
          this.reviewed(input.taskId, answer, signal.aborted);
          return answer.review;
        },
      },
      onEvent: (event) => this.onWorker(event),
    });
  }

  /**
   * A review's answer is in: what it cost is part of its attempt's (the task's budget and its record count
   * it, and the journal tells it in the same turn), and its verdict moves the task while it waits for it:
   * one event to the task's actor, as the answer arrives (its worker is freed after). A verdict its worker
   * let go of (`stale`: the task was taken back meanwhile) is not applied; its charge is.
   */
  private reviewed(
    taskId: string,
    answer: { review: TaskReview; usage: Usage; costUsd: number },
    stale: boolean,
  ): void {
    const task = this.tasks.get(taskId);
    const attempt = task?.attempts.at(-1);
    if (!task || !attempt) return;
    const { review, usage, costUsd } = answer;
    if (stale || task.status !== 'reviewing') {
      this.host.emit({ type: 'task.review_charged', taskId, attempt: attempt.n, usage, costUsd });
      const { usage: total, costUsd: cost, reviewSpend } = withReviewCharge(attempt, { usage, costUsd });
      const change = { usage: total, costUsd: cost, reviewSpend };
      this.tasks.send(taskId, { type: 'task.attempt_changed', n: attempt.n, change });
      return;
    }
    // The verdict and what it cost, in one event (a task's life is a handful of events: each costs CPU).
    const charge = { usage, costUsd };
    this.host.emit({ type: 'task.reviewed', taskId, attempt: attempt.n, review, charge });
    const at = isoAt(this.host.deps.clock);
    this.tasks.send(taskId, { type: 'task.reviewed', review, charge, at });
  }

  /**
   * A task changed status: what follows from it is announced, with the time the move stamped on the
   * record and what else it changed, and the dependents it freed go on.
   */
  private onMove({ task, before, from, to, reason, at: stamped }: TaskMove): void {
    const at = stamped ?? isoAt(this.host.deps.clock);
    this.forecaster.moved(task, from, to, this.host.deps.clock.now());
    this.gate.moved(task.id, to);
    if (to === 'done') {
      const attempt = task.attempts.at(-1);
      const result = task.result ?? '';
      // The journal publishes this only once it is fsynced: a task reported done is on disk. The result
      // is the accepted answer, which its `task.worked` told: not told again (a third of a 100k run's
      // bytes were outputs told three times).
      this.host.emit(
        {
          type: 'task.completed',
          taskId: task.id,
          attempt: attempt?.n ?? 0,
          ...(before.attempts.at(-1)?.output !== result && { result }),
          usage: attempt?.usage ?? ZERO_USAGE,
          costUsd: attempt?.costUsd ?? 0,
        },
        at,
      );
    }
    if (to === 'failed')
      this.host.emit({ type: 'task.failed', taskId: task.id, error: task.error ?? 'failed' }, at);
    this.host.emit(
      {
        type: 'task.status',
        taskId: task.id,
        status: to,
        from,
        ...(reason !== undefined && { reason }),
        // Sent back with feedback for its next attempt (a rework, a merge conflict).
        ...(to === 'ready' && task.reworks > before.reworks && { feedback: task.feedback ?? '' }),
        ...(to === 'blocked' && task.held !== undefined && { held: true }),
        // Straight to its review, its answer journalled before a restart: the worker that reviews it.
        ...(to === 'reviewing' && from === 'ready' && task.worker !== undefined && { worker: task.worker }),
      },
      at,
    );
    const freed = this.graph.moved(task, from, to);
    // After the graph counts it: a progress checkpoint made now says how many are done with this one.
    if (to === 'done') this.host.taskDone();
    if (to === 'merging') {
      this.learnTouches(task.id);
      this.merge(task);
    }
    this.unblock(freed, at);
  }

  /** Pending tasks that wait for nothing any more become ready. */
  unblock(ids: readonly string[], at = isoAt(this.host.deps.clock)): void {
    for (const id of ids) {
      if (this.tasks.statusOf(id) === 'pending') this.tasks.send(id, { type: 'task.unblocked', at });
    }
  }

  /** The records were replaced (a plan, a restore, a rollback): the graph follows, what is free is queued. */
  reschedule(): void {
    this.unblock(this.rebuild());
  }

  /** The graph and the forecast made afresh from the records; returns the tasks that wait for nothing. */
  rebuild(): string[] {
    // As the tasks are kept: a restore's settled and waiting tasks are not parsed for it.
    const { tasks, places } = this.tasks.placed();
    this.forecaster.reset(tasks);
    this.gate.clear();
    return this.graph.rebuild(tasks, recordOfTask, places);
  }

  /**
   * The number of the attempt a failure ended: the task's last, or the next one when it was refused
   * before it began (a task's first attempt refused by its cap read "attempt 0").
   */
  private failedAttempt(event: { taskId: string; beforeAttempt?: boolean }): number {
    const task = this.tasks.get(event.taskId);
    if (!task) return 0;
    return event.beforeAttempt ? nextAttemptNumber(task) : (task.attempts.at(-1)?.n ?? 0);
  }

  private onWorker(event: WorkerEmitted): void {
    const at = isoAt(this.host.deps.clock);
    switch (event.type) {
      // The task moved as the answer arrived (`task.answered` from the attempt, `reviewed` above).
      case 'worker.work_done':
        this.callSucceeded();
        break;
      case 'worker.reviewed':
        this.callSucceeded();
        this.pool.freed(event.worker);
        break;
      case 'worker.attempt_failed':
        this.host.emit({
          type: 'task.attempt_failed',
          taskId: event.taskId,
          attempt: this.failedAttempt(event),
          error: event.error,
          retryInMs: event.retryInMs,
        });
        break;
      case 'worker.gave_up': {
        this.pool.freed(event.worker);
        if (event.cancelled) break;
        const attempt = this.failedAttempt(event);
        this.host.emit({ type: 'task.attempt_failed', taskId: event.taskId, attempt, error: event.error });
        if (event.pauseRun) {
          // Logged out, out of credit, a usage limit: every task would fail alike. Keep the task and wait.
          this.tasks.send(event.taskId, { type: 'task.interrupt', at }, event.error.message);
          this.host.send(pauseFor(event.pauseReason, event.error.message, event.resumeAt));
          break;
        }
        this.tasks.send(event.taskId, {
          type: 'task.fail',
          error: `${event.error.category} error: ${event.error.message}`,
          at,
        });
        break;
      }
      case 'worker.rate_limited':
        if (this.pool.limit.onRateLimited())
          this.host.emit({
            type: 'run.concurrency',
            limit: this.pool.limit.value,
            reason: 'rate limited by the API',
          });
        break;
    }
    this.host.save();
    this.gate.landed();
    this.dispatch();
  }

  /** A model call went through: the concurrency cut by rate limits may grow back. */
  private callSucceeded(): void {
    if (this.pool.limit.onSuccess())
      this.host.emit({
        type: 'run.concurrency',
        limit: this.pool.limit.value,
        reason: 'calls succeed again',
      });
  }

  /**
   * The files an accepted task changed become its `touched`: while it is merged they hold it apart from
   * ready tasks touching them, and they go with it if it runs again (a conflict, a failed verify, a retry,
   * a rollback). Only the task learns them: its dependents inherit nothing, since a fan-out after a shared
   * first task would run one at a time. Queued before its merge, so a conflict's rework knows them.
   */
  private learnTouches(id: string): void {
    const workspace = this.host.deps.workspace;
    if (!workspace) return;
    this.merges
      .enqueue(async () => {
        const files = await changedFiles(workspace, id, MAX_TOUCHES);
        if (files.length === 0 || !this.tasks.send(id, { type: 'task.touched', files })) return;
        this.graph.learned(id, files);
        this.host.emit({ type: 'task.touched', taskId: id, files });
        this.host.save();
      })
      .catch((error: unknown) =>
        this.host.deps.logger.warn(
          { err: error, runId: this.host.id, taskId: id },
          'could not read changed files',
        ),
      );
  }

  /** Accepted work is merged into the integration branch, one task at a time, or through the train. */
  private merge(task: TaskRecord): void {
    const workspace = this.host.deps.workspace;
    if (!workspace) return;
    if (this.train) {
      this.train.enqueue(task.id);
      return;
    }
    const id = task.id;
    this.merges
      .enqueue(async () => {
        const at = () => isoAt(this.host.deps.clock);
        try {
          const merged = await workspace.merge(id, `${id}: ${task.title}`);
          if (this.tasks.statusOf(id) !== 'merging') return;
          if (merged.ok) this.tasks.send(id, { type: 'task.merged', at: at() });
          else {
            this.tasks.send(id, {
              type: 'task.merge_conflict',
              feedback: `your change conflicts with work merged meanwhile; redo it on top of the current files.\n${merged.conflict}`,
              files: merged.files,
              at: at(),
            });
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          this.tasks.send(id, { type: 'task.fail', error: `could not merge: ${message}`, at: at() });
        } finally {
          this.host.save();
          this.dispatch();
        }
      })
      .catch((error: unknown) =>
        this.host.deps.logger.error({ err: error, runId: this.host.id }, 'merge failed'),
      );
  }

  private makeTrain(): MergeTrain {
    const { host } = this;
    const at = () => isoAt(host.deps.clock);
    return new MergeTrain({
      runId: host.id,
      logger: host.deps.logger,
      workspace: () => host.deps.workspace,
      settings: () => ({
        command: host.config.integration.verify ?? 'true',
        timeoutSeconds: host.config.integration.verify_timeout,
        batch: host.config.integration.verify_batch,
      }),
      mayRun: () => host.isExecuting(),
      stillMerging: (id) => this.tasks.statusOf(id) === 'merging',
      rank: (id) => this.graph.criticalPathOf(id),
      emit: (event) => host.emit(event),
      landed: (id) => this.tasks.send(id, { type: 'task.merged', at: at() }),
      conflicted: (id, conflict, files) =>
        this.tasks.send(id, {
          type: 'task.merge_conflict',
          feedback: `your change conflicts with work merged meanwhile; redo it on top of the current files.\n${conflict}`,
          files,
          at: at(),
        }),
      rejected: (id, feedback, reason) =>
        this.tasks.send(
          id,
          { type: 'task.verify_failed', feedback, reason, at: at() },
          `integration.verify ${reason}`,
        ),
      failed: (id, error) => this.tasks.send(id, { type: 'task.fail', error, at: at() }),
      broken: (message) => host.send({ type: 'run.verify_broken', message }),
      changed: () => {
        host.save();
        this.dispatch();
      },
      inTurn: (work) => this.merges.enqueue(work),
    });
  }

  /** Starts the workers if they are not yet, and hands them what is ready (on entering executing). */
  startWork(): void {
    this.pool.start();
    this.train?.kick();
    this.fillWorkers();
  }

  dispatch(): void {
    if (this.host.isExecuting()) this.fillWorkers();
  }

  /**
   * Hands ready tasks to idle workers, best first, within the run's (adaptive) cap and its budget; the
   * run is settled when nothing is ready, in flight or being merged. Called only while executing.
   */
  private fillWorkers(): void {
    const failure = this.host.storageFailure();
    if (failure !== undefined) {
      // Nothing it did now could be recorded: the run waits for the disk instead.
      this.host.send({ type: 'run.storage_failed', message: failure });
      return;
    }
    const { max_tokens } = this.host.config.models.worker;
    while (this.graph.readyCount > 0 && this.pool.free > this.claiming) {
      const id = this.graph.takeReady();
      // Every ready task left waits for another's files: they start as those tasks let go.
      if (id === undefined) break;
      // Read only under a budget: a 100k-task run without one pays nothing for it.
      const task = this.host.budget.limit === undefined ? undefined : this.tasks.get(id)!;
      if (task && !this.gate.admit(task)) {
        this.graph.requeue(task);
        return;
      }
      const { source } = this.host.deps;
      if (source) void this.startOnceSourceAgrees(id, source);
      else this.assign(id, max_tokens);
    }
    if (
      this.pool.busy === 0 &&
      this.claiming === 0 &&
      this.graph.readyCount === 0 &&
      this.graph.count('merging') === 0
    ) {
      const held = this.heldByPerson();
      // A task a person cancelled waits for them (the cancel says so): the run waits with it rather than
      // end without it, whether other tasks wait for it or not.
      if (held !== undefined) this.host.send({ type: 'run.held', message: held });
      else this.host.send({ type: 'run.settled' });
    }
  }

  /**
   * What the run says while tasks a person cancelled hold it (until they edit, retry, skip or remove
   * them); undefined when none is cancelled. Read only once nothing else can run.
   */
  heldByPerson(): string | undefined {
    if (this.graph.count('cancelled') === 0) return undefined;
    const held = cancelledTasks(this.tasks);
    if (held.length === 0) return undefined;
    return heldMessage(
      held,
      held.some((id) => this.anyPendingAfter(id)),
    );
  }

  /** Whether a task waiting to run waits for `id`. */
  private anyPendingAfter(id: string): boolean {
    return this.graph.dependentsOf(id).some((dependent) => this.tasks.get(dependent)?.status === 'pending');
  }

  /** A task whose answer is in (see `awaitsReview`) goes to its review: its work is not paid twice. */
  private assign(id: string, maxTokens: number): void {
    const task = this.tasks.get(id)!;
    const worked = awaitsReview(task) ? task.attempts.at(-1)!.output : undefined;
    this.pool.assign({ taskId: id, maxTokens, ...(worked !== undefined && { worked }) }, (worker) => {
      const at = isoAt(this.host.deps.clock);
      this.tasks.send(id, { type: worked !== undefined ? 'task.assign_review' : 'task.assign', worker, at });
    });
  }

  /**
   * A task from a source people edit (Task Master) starts only once the source agrees: a person may have
   * changed it there since the run read it. Meanwhile the task is off the queue and a worker is kept.
   */
  private async startOnceSourceAgrees(id: string, source: SourceGuard): Promise<void> {
    this.claiming += 1;
    const verdict = await source.beforeStart(id).catch((error: unknown) => ({
      kind: 'unavailable' as const,
      reason: error instanceof Error ? error.message : String(error),
    }));
    this.claiming -= 1;
    const task = this.tasks.get(id);
    // Cancelled, skipped or rolled back meanwhile: what happened to the task since wins.
    if (task?.status === 'ready') {
      if (verdict.kind === 'changed') this.sourceChanged(id, verdict.change);
      else if (verdict.kind === 'start' && this.host.isExecuting() && this.pool.free > this.claiming)
        this.assign(id, this.host.config.models.worker.max_tokens);
      else {
        this.gate.drop(id);
        this.graph.requeue(task);
      }
      if (verdict.kind === 'unavailable' && this.host.isExecuting())
        this.host.send({ type: 'run.source_unavailable', message: verdict.reason });
    }
    this.host.save();
    this.dispatch();
  }

  /**
   * A person changed the task at the run's source (Task Master): the change is shown on the task. A task
   * that was about to start does not: done, cancelled or removed there, it is skipped and what waits for
   * it goes on (as at import); any other status holds it, and what waits for it, for a person.
   */
  sourceChanged(taskId: string, change: SourceChange): void {
    if (!this.tasks.get(taskId)) return;
    this.tasks.send(taskId, { type: 'task.source_changed', change });
    this.host.emit({ type: 'task.source_changed', taskId, change });
    if (change.action === 'not-started') {
      const at = isoAt(this.host.deps.clock);
      const reason = describeSourceChange(change);
      if (['done', 'cancelled', 'removed'].includes(change.status))
        this.tasks.send(taskId, { type: 'task.skip', at }, reason);
      else {
        this.holdForPerson(taskId, reason, at);
        const waiting = `waits for ${taskId}, which is ${change.status} in Task Master`;
        const stack = [...this.graph.dependentsOf(taskId)];
        for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
          if (this.tasks.statusOf(id) !== 'pending') continue;
          this.holdForPerson(id, waiting, at);
          stack.push(...this.graph.dependentsOf(id));
        }
      }
    }
    this.host.save();
    this.dispatch();
  }

  private holdForPerson(taskId: string, reason: string, at: string): void {
    if (this.tasks.send(taskId, { type: 'task.hold', reason, imported: true, at }))
      (this.host.doc.heldTasks ??= {})[taskId] = reason;
  }

  /** Takes every task back from the workers; they go back to the queue (a rollback, a provider pause). */
  interrupt(): void {
    this.pool.releaseAll();
    this.train?.interrupt();
    const at = isoAt(this.host.deps.clock);
    const held = [...this.tasks.rows()].filter(
      (task) => task.status === 'running' || task.status === 'reviewing' || task.status === 'merging',
    );
    for (const task of held) this.tasks.send(task.id, { type: 'task.interrupt', at });
  }

  /** Done, apart from what was skipped and imported tasks that were never to run. */
  allTasksDone(): boolean {
    const held = Object.keys(this.host.doc.heldTasks ?? {}).filter(
      (id) => this.tasks.statusOf(id) === 'blocked',
    );
    return this.graph.count('done') + this.graph.count('skipped') + held.length === this.tasks.size;
  }
}

/** The run actor's pause for a call no retry can help: a usage limit, the budget, or the provider. */
function pauseFor(reason: PauseReason | undefined, message: string, resumeAt: number | undefined): RunEvent {
  switch (reason) {
    case 'quota':
      return { type: 'run.quota_wait', message, ...(resumeAt !== undefined && { until: resumeAt }) };
    case 'budget':
      return { type: 'run.budget_reached', message };
    case 'backend':
      return { type: 'run.backend_lost', message };
    default:
      return { type: 'run.provider_refused', message };
  }
}
