import {
  type CheckpointInfo,
  type ConfigInput,
  type InboxEvent,
  type InboxItem,
  type InboxList,
  type NotificationChannelStatus,
  type NewEvent,
  type OrcEvent,
  OrcError,
  type RollbackResult,
  type RollbackStrategy,
  type RunPreview,
  type RunSummary,
  type RunView,
  StartRunInput,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
  TaskSpec,
  taskMatches,
  ZERO_USAGE,
} from '@orc/shared';
import { previewRun, type Orchestrator } from '@orc/daemon';

/**
 * A small in-memory Orchestrator for the RPC layer's tests: runs finish their tasks one by one on a
 * timer and every change is an event. Not an engine: no models, no store, no scheduling.
 */
export class FakeOrchestrator implements Orchestrator {
  readonly calls: string[] = [];
  closed = false;
  /** Subscriptions being served right now, to see that a dropped client's stream was ended. */
  activeSubscriptions = 0;
  /** Events handed to subscribers in total. */
  delivered = 0;
  private readonly runs = new Map<string, { view: RunView; events: OrcEvent[]; timer?: NodeJS.Timeout }>();
  private readonly waiters = new Set<() => void>();
  private nextRun = 1;

  constructor(private readonly options: { taskMs?: number; taskCount?: number } = {}) {}

  previewRun(raw: StartRunInput): Promise<RunPreview> {
    this.calls.push('previewRun');
    const models = {
      manager: { provider: 'simulated' as const, model: 'sim-manager' },
      worker: { provider: 'simulated' as const, model: 'sim-worker' },
      simulated: true,
    };
    return Promise.resolve(previewRun(StartRunInput.parse(raw), undefined, models));
  }

  startRun(raw: StartRunInput): Promise<RunSummary> {
    const input = StartRunInput.parse(raw);
    this.calls.push('startRun');
    const id = `run-${this.nextRun++}`;
    const now = new Date().toISOString();
    const specs =
      input.tasks ??
      Array.from({ length: this.options.taskCount ?? 3 }, (_, i) =>
        TaskSpec.parse({ id: `t${i + 1}`, title: `part ${i + 1}` }),
      );
    const tasks: TaskRecord[] = specs.map((spec) => ({
      ...spec,
      status: 'pending',
      attempts: [],
      reworks: 0,
    }));
    const view: RunView = {
      id,
      goal: input.goal ?? 'imported tasks',
      status: 'executing',
      models: {
        manager: { provider: 'simulated', model: 'sim-manager' },
        worker: { provider: 'simulated', model: 'sim-worker' },
        simulated: true,
      },
      maxWorkers: 1,
      createdAt: now,
      updatedAt: now,
      taskCounts: { pending: tasks.length },
      taskTotal: tasks.length,
      usage: ZERO_USAGE,
      costUsd: 0,
      lastEventId: 0,
      tasks,
      busyWorkers: 0,
    };
    this.runs.set(id, { view, events: [] });
    this.emit(id, { type: 'run.created', goal: view.goal, models: view.models, maxWorkers: 1 });
    this.emit(id, { type: 'run.status', status: 'executing' });
    this.schedule(id);
    return Promise.resolve(this.summary(view));
  }

  listRuns(): RunSummary[] {
    return [...this.runs.values()].map((run) => this.summary(run.view));
  }

  getRun(runId: string): Promise<RunView> {
    return Promise.resolve().then(() => this.run(runId).view);
  }

  pageTasks(runId: string, query: TaskQuery): Promise<TaskPage> {
    const { view } = this.run(runId);
    const matching = view.tasks.filter((task) => taskMatches(task, query));
    return Promise.resolve({
      runId,
      lastEventId: view.lastEventId,
      offset: query.offset,
      total: matching.length,
      tasks: matching.slice(query.offset, query.offset + query.limit),
    });
  }

  async getTask(runId: string, taskId: string): Promise<TaskRecord> {
    const task = this.run(runId).view.tasks.find((t) => t.id === taskId);
    if (!task) throw new OrcError('TASK_NOT_FOUND', `run ${runId} has no task ${taskId}`);
    return Promise.resolve(task);
  }

  taskDiff(runId: string, taskId: string): Promise<undefined> {
    this.task(runId, taskId);
    return Promise.resolve(undefined);
  }

  async pauseRun(runId: string): Promise<RunSummary> {
    const run = this.run(runId);
    if (run.view.status !== 'executing') {
      throw new OrcError(
        'INVALID_STATE',
        `run ${runId} is ${run.view.status}; only an executing run can be paused`,
      );
    }
    clearTimeout(run.timer);
    run.view.status = 'paused';
    this.emit(runId, { type: 'run.paused', reason: 'user' });
    return Promise.resolve(this.summary(run.view));
  }

  async resumeRun(runId: string, _options?: { maxCostUsd?: number }): Promise<RunSummary> {
    const run = this.run(runId);
    if (run.view.status !== 'paused') throw new OrcError('INVALID_STATE', `run ${runId} is not paused`);
    run.view.status = 'executing';
    this.emit(runId, { type: 'run.resumed' });
    this.schedule(runId);
    return Promise.resolve(this.summary(run.view));
  }

  cancelRun(runId: string): Promise<RunSummary> {
    const run = this.run(runId);
    clearTimeout(run.timer);
    run.view.status = 'cancelled';
    this.emit(runId, { type: 'run.cancelled' });
    return Promise.resolve(this.summary(run.view));
  }

  removeRun(runId: string): Promise<void> {
    this.calls.push('removeRun');
    this.run(runId);
    this.runs.delete(runId);
    return Promise.resolve();
  }

  retryTask(runId: string, taskId: string): Promise<RunSummary> {
    this.task(runId, taskId);
    return Promise.resolve(this.summary(this.run(runId).view));
  }

  skipTask(runId: string, taskId: string): Promise<RunSummary> {
    this.task(runId, taskId).status = 'skipped';
    return Promise.resolve(this.summary(this.run(runId).view));
  }

  createCheckpoint(runId: string, label?: string): Promise<CheckpointInfo> {
    const run = this.run(runId);
    const info: CheckpointInfo = {
      id: `cp-${run.events.length}`,
      runId,
      createdAt: new Date().toISOString(),
      reason: 'manual',
      tasksDone: run.view.tasks.filter((task) => task.status === 'done').length,
      lastEventId: run.view.lastEventId,
      ...(label !== undefined ? { label } : {}),
    };
    this.emit(runId, { type: 'checkpoint.created', checkpoint: info });
    return Promise.resolve(info);
  }

  listCheckpoints(runId: string): Promise<CheckpointInfo[]> {
    return Promise.resolve().then(() => this.checkpoints(runId));
  }

  private checkpoints(runId: string): CheckpointInfo[] {
    return this.run(runId).events.flatMap((event) =>
      event.type === 'checkpoint.created' ? [event.checkpoint] : [],
    );
  }

  rollback(runId: string, checkpointId: string, strategy: RollbackStrategy): Promise<RollbackResult> {
    if (!this.checkpoints(runId).some((cp) => cp.id === checkpointId)) {
      throw new OrcError(
        'CHECKPOINT_NOT_FOUND',
        `run ${runId} has no checkpoint ${checkpointId}; see orc checkpoint list`,
      );
    }
    const rollback = { checkpointId, strategy, reset: [], kept: [] };
    return Promise.resolve({ ...this.summary(this.run(runId).view), rollback });
  }

  events(runId: string, afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent> {
    const run = this.run(runId); // throws at once for an unknown run, as the real one does
    return this.counted(run.events, afterId, signal);
  }

  private async *counted(events: OrcEvent[], afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent> {
    this.activeSubscriptions++;
    try {
      yield* this.follow(events, afterId, signal);
    } finally {
      this.activeSubscriptions--;
    }
  }

  private async *follow(events: OrcEvent[], afterId: number, signal: AbortSignal): AsyncIterable<OrcEvent> {
    let next = afterId;
    while (!signal.aborted) {
      const pending = events.filter((event) => event.id > next);
      for (const event of pending) {
        if (signal.aborted) return;
        next = event.id;
        this.delivered++;
        yield event;
      }
      if (pending.length === 0) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.waiters.delete(wake);
            signal.removeEventListener('abort', wake);
            resolve();
          };
          this.waiters.add(wake);
          signal.addEventListener('abort', wake, { once: true });
        });
      }
    }
  }

  async waitForRun(runId: string, signal?: AbortSignal): Promise<RunSummary> {
    const done = new AbortController();
    signal?.addEventListener('abort', () => done.abort(), { once: true });
    for await (const event of this.events(runId, 0, done.signal)) {
      if (event.type === 'run.completed' || event.type === 'run.cancelled' || event.type === 'run.paused')
        break;
    }
    done.abort();
    return this.summary(this.run(runId).view);
  }

  hasApiKey(): boolean {
    return false;
  }

  /** Nothing waits for a person here: the inbox's own tests use the real engine. */
  listInbox(): InboxList {
    return { items: [], lastEventId: 0 };
  }

  answerInbox(itemId: string): Promise<InboxItem> {
    return Promise.reject(new OrcError('ITEM_NOT_FOUND', `there is no inbox item ${itemId}`));
  }

  async *inboxEvents(_afterId: number, signal: AbortSignal): AsyncIterable<InboxEvent> {
    if (!signal.aborted)
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    yield* [];
  }

  notificationStatus(): NotificationChannelStatus[] {
    return [];
  }

  quotaStatus(): ReturnType<Orchestrator['quotaStatus']> {
    return { models: [], inputEstimateError: 0, estimatedCalls: 0 };
  }

  baseConfig(): ConfigInput {
    return { execution: { max_workers: 2 } };
  }

  close(): Promise<void> {
    this.closed = true;
    for (const run of this.runs.values()) clearTimeout(run.timer);
    return Promise.resolve();
  }

  /** Appends an event as the engine would (next id, run id, time) and wakes every subscriber. */
  emit(runId: string, event: NewEvent): OrcEvent {
    const run = this.run(runId);
    const full = { ...event, id: run.events.length + 1, runId, at: new Date().toISOString() };
    run.events.push(full);
    run.view.lastEventId = full.id;
    for (const wake of [...this.waiters]) wake();
    return full;
  }

  eventLog(runId: string): OrcEvent[] {
    return [...this.run(runId).events];
  }

  private schedule(runId: string): void {
    const run = this.run(runId);
    const task = run.view.tasks.find((candidate) => candidate.status === 'pending');
    if (task === undefined) {
      run.view.status = 'completed';
      this.emit(runId, {
        type: 'run.completed',
        review: { verdict: 'success', summary: 'all done', followUps: [] },
      });
      return;
    }
    run.timer = setTimeout(() => {
      task.status = 'done';
      this.emit(runId, { type: 'task.status', taskId: task.id, status: 'done' });
      this.schedule(runId);
    }, this.options.taskMs ?? 10);
  }

  private run(runId: string) {
    const run = this.runs.get(runId);
    if (run === undefined) throw new OrcError('RUN_NOT_FOUND', `no run ${runId}; see orc ls`);
    return run;
  }

  private task(runId: string, taskId: string): TaskRecord {
    const task = this.run(runId).view.tasks.find((candidate) => candidate.id === taskId);
    if (task === undefined) throw new OrcError('TASK_NOT_FOUND', `run ${runId} has no task ${taskId}`);
    return task;
  }

  private summary(view: RunView): RunSummary {
    const { tasks: _tasks, planSummary: _plan, finalReview: _review, busyWorkers: _busy, ...summary } = view;
    return { ...summary };
  }
}
