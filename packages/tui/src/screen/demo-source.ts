import {
  applyEvent,
  FINISHED_RUN_STATUSES,
  OrcError,
  taskMatches,
  TASK_PAGE_LIMIT,
  type CheckpointInfo,
  type NewEvent,
  type OrcEvent,
  type RollbackResult,
  type RollbackStrategy,
  type RunSummary,
  type RunView,
  type TaskPage,
  type TaskPageInput,
  type TaskRecord,
} from '@orc/shared';
import type { RunSource } from './run-source.js';

export interface DemoOptions {
  tasks?: number;
  workers?: number;
  /** Time between two steps of the simulation. */
  stepMs?: number;
  /** Steps a task's work takes. */
  workSteps?: number;
  /** Every n-th task fails its first attempt with a transient error (0: none). */
  failEvery?: number;
}

/**
 * A run simulated in memory, for trying the screen without a daemon (`node dist/screen/demo.js`) and for
 * its tests under tmux. Its events go through the same reducer a client uses, so what the screen shows
 * is exactly what the stream says.
 */
export class DemoRunSource implements RunSource {
  private view: RunView;
  private readonly log: OrcEvent[] = [];
  private readonly followers = new Set<{ onEvent: (e: OrcEvent) => void; onError: (e: unknown) => void }>();
  private readonly checkpoints: CheckpointInfo[] = [];
  private readonly progress = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly opts: Required<DemoOptions>;
  private down = false;

  constructor(runId = 'demo-run', options: DemoOptions = {}) {
    this.opts = { tasks: 40, workers: 3, stepMs: 100, workSteps: 12, failEvery: 7, ...options };
    const at = new Date().toISOString();
    this.view = {
      id: runId,
      goal: 'Demonstrate the orc terminal UI on a simulated run',
      status: 'analyzing',
      models: {
        manager: { provider: 'simulated', model: 'claude-opus-5-5' },
        worker: { provider: 'simulated', model: 'claude-sonnet-5-5' },
        simulated: true,
      },
      maxWorkers: this.opts.workers,
      createdAt: at,
      updatedAt: at,
      taskCounts: {},
      taskTotal: 0,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
      lastEventId: 0,
      tasks: [],
      busyWorkers: 0,
    };
    this.emit({ type: 'run.planning', attempt: 1 });
    this.emit({
      type: 'run.planned',
      summary: `${this.opts.tasks} tasks in chains of four`,
      tasks: Array.from({ length: this.opts.tasks }, (_, i) => ({
        id: `t${i + 1}`,
        title: `Write section ${i + 1} of the guide`,
        description: `Section ${i + 1}: explain one part of the system with an example.`,
        dependencies: i % 4 === 0 ? [] : [`t${i}`],
        priority: 'medium' as const,
      })),
    });
    this.emit({ type: 'run.status', status: 'executing' });
    this.timer = setInterval(() => this.step(), this.opts.stepMs);
  }

  /** Stops the simulation; followers get no more events. */
  close(): void {
    clearInterval(this.timer);
    this.followers.clear();
  }

  /** Acts as a daemon that went away for `ms`: streams break and calls fail until it is back. */
  outage(ms: number): void {
    this.down = true;
    for (const f of this.followers) f.onError(new Error('connection closed'));
    this.followers.clear();
    setTimeout(() => (this.down = false), ms).unref();
  }

  listRuns(): Promise<RunSummary[]> {
    return this.answer(() => [summaryOf(this.view)]);
  }

  getRun(runId: string): Promise<RunView> {
    return this.answer(() => {
      this.check(runId);
      return structuredClone(this.view);
    });
  }

  pageTasks(runId: string, query: Omit<TaskPageInput, 'runId'>): Promise<TaskPage> {
    return this.answer(() => {
      this.check(runId);
      const matching = this.view.tasks.filter((task) => taskMatches(task, query));
      const offset = query.offset ?? 0;
      return {
        runId,
        lastEventId: this.view.lastEventId,
        offset,
        total: matching.length,
        tasks: structuredClone(matching.slice(offset, offset + (query.limit ?? TASK_PAGE_LIMIT))),
      };
    });
  }

  getTask(runId: string, taskId: string): Promise<TaskRecord> {
    return this.answer(() => {
      this.check(runId);
      const task = this.view.tasks.find((t) => t.id === taskId);
      if (!task) throw new Error(`run ${runId} has no task ${taskId}`);
      return structuredClone(task);
    });
  }

  follow(
    runId: string,
    afterId: number,
    onEvent: (e: OrcEvent) => void,
    onError: (e: unknown) => void,
  ): () => void {
    const follower = { onEvent, onError };
    queueMicrotask(() => {
      if (this.down) return onError(new Error('connection refused'));
      for (const event of this.log) if (event.id > afterId && event.runId === runId) onEvent(event);
      this.followers.add(follower);
    });
    return () => this.followers.delete(follower);
  }

  pause(runId: string): Promise<unknown> {
    return this.answer(() => {
      this.check(runId);
      if (this.view.status !== 'executing')
        throw new OrcError('INVALID_STATE', `run ${runId} is ${this.view.status}`);
      this.emit({ type: 'run.paused', reason: 'user' });
    });
  }

  resume(runId: string): Promise<unknown> {
    return this.answer(() => {
      this.check(runId);
      if (this.view.status !== 'paused') throw new OrcError('INVALID_STATE', `run ${runId} is not paused`);
      this.emit({ type: 'run.resumed' });
    });
  }

  cancel(runId: string): Promise<unknown> {
    return this.answer(() => {
      this.check(runId);
      for (const t of this.view.tasks) {
        if (!['done', 'failed', 'skipped'].includes(t.status))
          this.emit({ type: 'task.status', taskId: t.id, status: 'cancelled' });
      }
      this.emit({ type: 'run.cancelled' });
    });
  }

  retry(runId: string, taskId: string): Promise<unknown> {
    return this.answer(() => {
      const task = this.task(runId, taskId);
      if (!['failed', 'blocked', 'skipped', 'cancelled'].includes(task.status)) {
        throw new OrcError(
          'INVALID_STATE',
          `task ${taskId} is ${task.status}; only failed, blocked, skipped or cancelled tasks can be retried`,
        );
      }
      this.emit({ type: 'task.status', taskId, status: 'pending' });
    });
  }

  skip(runId: string, taskId: string): Promise<unknown> {
    return this.answer(() => {
      const task = this.task(runId, taskId);
      if (task.status === 'done') throw new OrcError('INVALID_STATE', `task ${taskId} is already done`);
      this.emit({ type: 'task.status', taskId, status: 'skipped' });
    });
  }

  checkpoint(runId: string, label?: string): Promise<CheckpointInfo> {
    return this.answer(() => {
      this.check(runId);
      const info: CheckpointInfo = {
        id: `cp${this.checkpoints.length + 1}`,
        runId,
        createdAt: new Date().toISOString(),
        reason: 'manual',
        tasksDone: this.view.taskCounts.done ?? 0,
        lastEventId: this.view.lastEventId,
        ...(label === undefined ? {} : { label }),
      };
      this.checkpoints.push(info);
      this.emit({ type: 'checkpoint.created', checkpoint: info });
      return info;
    });
  }

  listCheckpoints(runId: string): Promise<CheckpointInfo[]> {
    return this.answer(() => {
      this.check(runId);
      return [...this.checkpoints];
    });
  }

  rollback(
    runId: string,
    checkpointId: string,
    strategy: RollbackStrategy,
    tasks?: string[],
  ): Promise<RollbackResult> {
    return this.answer(() => {
      this.check(runId);
      const cp = this.checkpoints.find((c) => c.id === checkpointId);
      if (cp === undefined)
        throw new OrcError('CHECKPOINT_NOT_FOUND', `checkpoint ${checkpointId} not found`);
      // Tasks that finished after the checkpoint (or the chosen ones) run again.
      const later = new Set(
        this.log
          .filter((e) => e.id > cp.lastEventId && e.type === 'task.status' && e.status === 'done')
          .map((e) => (e as { taskId: string }).taskId),
      );
      const reset = strategy === 'selective' ? (tasks ?? []) : [...later];
      this.emit({ type: 'run.rolled_back', checkpointId, strategy, resetTasks: reset });
      for (const id of reset) this.progress.delete(id);
      return { ...summaryOf(this.view), rollback: { checkpointId, strategy, reset, kept: [] } };
    });
  }

  private step(): void {
    const view = this.view;
    if (view.status !== 'executing') return;
    const byId = new Map(view.tasks.map((t) => [t.id, t]));
    for (const task of view.tasks) {
      if (
        task.status === 'pending' &&
        task.dependencies.every((d) => ['done', 'skipped'].includes(byId.get(d)?.status ?? ''))
      ) {
        this.emit({ type: 'task.status', taskId: task.id, status: 'ready' });
      }
    }
    for (const task of this.view.tasks) {
      if (task.status === 'reviewing') {
        const attempt = task.attempts.length;
        this.emit({
          type: 'task.reviewed',
          taskId: task.id,
          attempt,
          review: { verdict: 'accept', feedback: 'Clear and complete.' },
        });
        this.emit({ type: 'task.status', taskId: task.id, status: 'done' });
      } else if (task.status === 'running') {
        const done = (this.progress.get(task.id) ?? 0) + 1;
        this.progress.set(task.id, done);
        const worker = task.worker ?? 0;
        const attempt = task.attempts.length;
        const n = Number(task.id.slice(1));
        if (this.opts.failEvery > 0 && n % this.opts.failEvery === 0 && attempt === 1 && done === 3) {
          this.emit({
            type: 'task.attempt_failed',
            taskId: task.id,
            attempt,
            error: { category: 'transient', message: '529 overloaded_error: the API is overloaded' },
            retryInMs: 500,
          });
          this.emit({ type: 'task.status', taskId: task.id, status: 'ready' });
          this.progress.delete(task.id);
        } else if (done >= this.opts.workSteps) {
          const usage = { inputTokens: 1200, outputTokens: 450, cacheReadTokens: 0, cacheWriteTokens: 0 };
          this.emit({
            type: 'task.completed',
            taskId: task.id,
            attempt,
            result: `Section ${n} written.`,
            usage,
            costUsd: 0.0069,
          });
          this.emit({ type: 'task.status', taskId: task.id, status: 'reviewing' });
          this.progress.delete(task.id);
        } else {
          this.emit({
            type: 'worker.output',
            taskId: task.id,
            worker,
            text: `${task.id} line ${done}: drafting paragraph ${done} of the section.\n`,
          });
        }
      }
    }
    const busy = new Set(
      this.view.tasks.filter((t) => t.status === 'running' || t.status === 'reviewing').map((t) => t.worker),
    );
    for (const task of this.view.tasks) {
      if (task.status !== 'ready' || busy.size >= this.opts.workers) continue;
      let worker = 0;
      while (busy.has(worker)) worker++;
      busy.add(worker);
      this.emit({ type: 'task.assigned', taskId: task.id, worker, attempt: task.attempts.length + 1 });
    }
    const settled = this.view.tasks.every((t) =>
      ['done', 'failed', 'skipped', 'cancelled'].includes(t.status),
    );
    if (settled && !FINISHED_RUN_STATUSES.has(this.view.status)) {
      this.emit({
        type: 'run.completed',
        review: { verdict: 'success', summary: 'Every section is written.', followUps: [] },
      });
    }
  }

  private emit(event: NewEvent): void {
    const full = {
      ...event,
      id: this.view.lastEventId + 1,
      runId: this.view.id,
      at: new Date().toISOString(),
    };
    this.log.push(full);
    this.view = applyEvent(this.view, full);
    for (const f of this.followers) f.onEvent(full);
  }

  private check(runId: string): void {
    if (runId !== this.view.id)
      throw new OrcError('RUN_NOT_FOUND', `run ${runId} not found; orc ls lists the runs`);
  }

  private task(runId: string, taskId: string) {
    this.check(runId);
    const task = this.view.tasks.find((t) => t.id === taskId);
    if (task === undefined) throw new OrcError('TASK_NOT_FOUND', `task ${taskId} not found in run ${runId}`);
    return task;
  }

  private answer<T>(fn: () => T): Promise<T> {
    if (this.down) return Promise.reject(new Error('connection refused'));
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function summaryOf(view: RunView): RunSummary {
  const { tasks: _tasks, planSummary: _plan, finalReview: _review, busyWorkers: _busy, ...summary } = view;
  return summary;
}
