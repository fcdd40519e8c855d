import { randomInt } from 'node:crypto';
import {
  FINISHED_RUN_STATUSES,
  OrcError,
  loadConfig,
  parseResolvedConfig,
  resolveConfig,
  type ConfigInput,
  type LoadedConfig,
  type ResolvedConfig,
  withDaemonSettings,
  withEnvironment,
} from '@orc/shared';
import { pino, type Logger } from 'pino';
import { createActor, fromPromise, waitFor } from 'xstate';
import { orchestratorMachine } from '../actors/orchestrator.machine.js';
import { systemClock, type Clock } from '../clock.js';
import { DaemonMetrics } from '../metrics/daemon-metrics.js';
import { engineReadings } from '../metrics/engine-readings.js';
import { seededRandom, type Random } from '../model/seeded-random.js';
import { addFromSource, addTasks, cancelTask, removeTask, updateTask } from '../run/plan-edits.js';
import { rateRun } from '../run/rate-run.js';
import { restoreRun } from '../run/restore-run.js';
import {
  cancelRun,
  pauseRun,
  resumeRun,
  retryTask,
  rollbackRun,
  skipTask,
  untilSettled,
} from '../run/run-control.js';
import { retryCapped } from '../run/retry-capped.js';
import { RunRegistry } from '../run/run-registry.js';
import type { Run, RunDeps } from '../run/run.js';
import { reportRun, reportRuns } from '../report/report-runs.js';
import { QuotaGovernor } from '../quota/quota-governor.js';
import { openFileRunStore } from '../store/file-run-store.js';
import { RedisBackends } from '../remote/redis-backends.js';
import type { KeptRunDocument, RunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import { TaskMasterSource } from '../taskmaster/taskmaster-source.js';
import { GitWorkspace } from '../workspace/git-workspace.js';
import { taskDiff } from '../workspace/task-diff.js';
import { DaemonInbox } from '../inbox/daemon-inbox.js';
import type { NotificationChannel } from '../notify/notifier.js';
import type { Orchestrator } from './orchestrator.js';
import { defaultProviders, type ProviderFactory } from './providers.js';
import { planGoal } from './plan-goal.js';
import { modelsOf, previewRun } from './run-preview.js';
import { runConfigOver } from './run-config.js';
import { readRunEnvironment } from './run-environment.js';
import { prepareRun, startRun } from './start-run.js';

export { defaultProviders, type ProviderFactory } from './providers.js';

export interface OrchestratorOptions {
  /** The state directory (`ORC_HOME`). */
  home: string;
  /** The base configuration; loaded from the environment and `home/orc.config.json` when absent. */
  loaded?: LoadedConfig;
  /**
   * The base configuration as its files are now (the daemon's): read for each new run, so an edited user
   * config applies to the next run without a restart. Absent: `loaded` serves every run.
   */
  reloadConfig?: () => LoadedConfig;
  /** Overrides on top of the base configuration. */
  config?: ConfigInput;
  logger?: Logger;
  clock?: Clock;
  /** Randomness (backoff jitter, run ids' neighbours); seeded afresh per daemon unless given. */
  random?: Random;
  providers?: ProviderFactory;
  /** Injected store (tests); the file store under `home` otherwise. */
  store?: RunStore;
  /** First backoff step between retries (default 500 ms). */
  retryBaseMs?: number;
  /** How long a finished run loaded for a call stays in memory after its last use (default 30 s). */
  finishedRunIdleMs?: number;
  /**
   * A full garbage collection once a finished run is let go while none is active (`RunRegistry`); by
   * default V8's `gc`, which the daemon has when started with --expose-gc, as `orc daemon start` does.
   */
  collectGarbage?: () => void;
  /** The metrics include the process's own (CPU, memory, event-loop delay): the daemon's engine. */
  processMetrics?: boolean;
  /** Where notifications go instead of the channels `notifications` configures (tests). */
  notificationChannels?: NotificationChannel[];
  /**
   * Until when the daemon before was alive (ms since the epoch), when it was killed: a restored run's
   * downtime counts from then, not from its last event (`restoreRun`).
   */
  aliveUntil?: number;
}

/**
 * Opens the engine on a state directory: the orchestrator actor is started, every persisted run is
 * restored as its child (runs that were executing go on by themselves), and new runs can be started
 * from a goal, a task list or a Task Master project. The `Orchestrator` returned is what the daemon's
 * procedures call.
 */
export async function createOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const clock = options.clock ?? systemClock;
  const random = options.random ?? seededRandom(randomInt(2 ** 31));
  const loaded = options.loaded ?? loadConfig({ cwd: options.home, skipUserConfig: true });
  const withOptions = (config: ResolvedConfig) =>
    options.config
      ? resolveConfig(
          [
            { source: 'base configuration', values: config },
            { source: 'options', values: options.config },
          ],
          loaded.apiKey !== undefined,
        )
      : config;
  const base = withOptions(loaded.config);
  const daemonLayers = [
    ...loaded.layers,
    ...(options.config ? [{ source: 'options', values: options.config }] : []),
  ];
  /**
   * The base a new run starts from: the files as they are now (a malformed one fails this run, with the
   * usual line, and not the daemon), but the keys only the daemon decides as it started with them, and
   * the provider decided by the API key it started with (the one its runs call with).
   */
  const currentBase = (): ResolvedConfig => {
    if (!options.reloadConfig) return base;
    const fresh = resolveConfig(options.reloadConfig().layers, loaded.apiKey !== undefined);
    return withDaemonSettings(withOptions(fresh), base);
  };
  const store = options.store ?? (await openFileRunStore(options.home));
  // One for the daemon: every call of every run is admitted against the same quotas and the same cap.
  const metrics = new DaemonMetrics(clock, { processMetrics: options.processMetrics === true });
  const governor = new QuotaGovernor(clock, base.execution.machine_max_in_flight, metrics);
  const providers = options.providers ?? defaultProviders;
  /** The Redis servers of the runs on that backend; the daemon's own is its config's, opened now. */
  const remotes = new RedisBackends({
    home: options.home,
    base,
    env: process.env,
    clock,
    logger: logger.child({ component: 'redis' }),
    observer: metrics,
  });
  const remote = remotes.own;
  /** Providers with processes of their own (claude-code agents), ended on close. */
  const stoppable: { stop(): unknown }[] = [];
  /** Task Master sources and their write-backs by run, drained on close so no status is lost. */
  const syncs = new Map<string, TaskMasterSource>();
  /** What waits for a person, beside the orchestrator actor: fed by the runs, answered by people. */
  const inbox = await DaemonInbox.open({
    home: options.home,
    notifications: base.notifications,
    clock,
    logger: logger.child({ component: 'inbox' }),
    ...(options.notificationChannels && { channels: options.notificationChannels }),
    use: (runId, fn) => runs.use(runId, (run) => fn(run)),
    openForWork: (run) => withWorkspace(run),
  });

  const supervisor = createActor(
    orchestratorMachine.provide({
      actors: {
        closeRuns: fromPromise(async ({ input }) => {
          // A closing run no longer waits for anything, but what it waits for outlives the stop.
          inbox.unfollowAll();
          // Jobs in flight are the workers' to finish; the daemon takes their answers when it is back.
          remotes.detach();
          await runs.close(input.graceMs);
          await remotes.close();
          governor.close();
          await Promise.all(stoppable.map((provider) => provider.stop()));
          await Promise.all([...syncs.values()].map((sync) => sync.idle()));
          for (const sync of syncs.values()) sync.stop();
          await inbox.stop();
          await store.close();
        }),
      },
    }),
  );
  supervisor.start();
  const isOpen = () => supervisor.getSnapshot().matches('open');
  // No journal, no progress: a failed write anywhere pauses every run until the disk takes writes again.
  let lastFailure = { message: '', at: -Infinity };
  store.onWriteFailure((failure) => {
    if (failure.message !== lastFailure.message || clock.now() - lastFailure.at > 10_000) {
      logger.error({ file: failure.file, code: failure.code, runId: failure.runId }, failure.message);
      lastFailure = { message: failure.message, at: clock.now() };
    }
    supervisor.send({ type: 'storage.failed', message: failure.message });
  });

  const depsFor = (config: ResolvedConfig, workspace?: GitWorkspace): RunDeps => {
    const context = { apiKey: loaded.apiKey, clock };
    const made = {
      manager: providers(config.models.manager.provider ?? config.models.provider, config, context),
      worker: providers(config.models.worker.provider ?? config.models.provider, config, context),
    };
    const backend = remotes.forConfig(config);
    for (const provider of Object.values(made)) {
      if ('stop' in provider && typeof provider.stop === 'function')
        stoppable.push(provider as { stop(): unknown });
    }
    return {
      store,
      clock,
      random,
      logger: logger.child({ component: 'run' }),
      governor,
      providers: made,
      retryBaseMs: options.retryBaseMs ?? 500,
      parent: supervisor,
      metrics,
      permissions: inbox.permissions,
      ...(workspace && { workspace }),
      ...(backend && { backend }),
    };
  };

  /** The Task Master project a run's tasks come from, asked before each task starts and written back. */
  const sourceFor = (runId: string, source: RunDocument['source']): TaskMasterSource | undefined =>
    source &&
    new TaskMasterSource({
      file: source.file,
      tag: source.tag,
      writeBack: source.writeBack !== false,
      imported: source.imported ?? {},
      ...(source.excluded && { excluded: source.excluded }),
      logger: logger.child({ runId }),
    });

  /** Registers a run as the supervisor's child and keeps its Task Master source in step with it. */
  const track = (run: Run, source: TaskMasterSource | undefined, restored = false): Run => {
    supervisor.send({ type: 'run.opened', runId: run.id, ref: run.actor });
    inbox.follow(run);
    if (source) {
      source.follow(
        (listener) => run.onEvent(listener),
        (taskId, change) => run.scheduler.sourceChanged(taskId, change),
        restored ? run.view(true).tasks : undefined,
      );
      source.watchForAdditions(
        (listener) => run.onEvent(listener),
        (id) => run.tasks.get(id) !== undefined,
        (specs) => addFromSource(run, specs),
        restored,
      );
      run.beforeFinish(() => source.idle());
      syncs.set(run.id, source);
    }
    return run;
  };

  /** Brings a run back from its document: its repository, its Task Master source, its actor. */
  const restore = async (doc: KeptRunDocument): Promise<Run> => {
    let workspace: GitWorkspace | undefined;
    if (doc.workspace && !FINISHED_RUN_STATUSES.has(doc.status)) {
      // The run's restore deals with the worktrees the crash left: resumed, or removed with work kept.
      workspace = await GitWorkspace.open(doc.workspace.workdir, doc.id, {
        home: options.home,
        ...(doc.workspace.start && { start: doc.workspace.start }),
        ...(doc.workspace.remote !== undefined && { remote: doc.workspace.remote }),
      });
    }
    const config = withEnvironment(
      parseResolvedConfig(doc.config, `the configuration saved with run ${doc.id}`),
      await readRunEnvironment(options.home, doc.id),
    );
    const source = sourceFor(doc.id, doc.source);
    const deps = { ...depsFor(config, workspace), ...(source && { source }) };
    return track(await restoreRun(deps, doc, config, options.aliveUntil), source, true);
  };
  // Active runs are restored now; finished ones stay on disk until a call needs them.
  const runs = new RunRegistry({
    store,
    clock,
    logger,
    restore,
    onUnload: async (runId) => {
      inbox.unfollow(runId);
      supervisor.send({ type: 'run.released', runId });
      const source = syncs.get(runId);
      syncs.delete(runId);
      await source?.idle();
      source?.stop();
    },
    ...(options.finishedRunIdleMs !== undefined && { idleMs: options.finishedRunIdleMs }),
    collectGarbage: options.collectGarbage ?? exposedGc,
  });
  await runs.open();
  metrics.read(engineReadings(runs, governor, () => remote));

  /**
   * Readies a run a person gives work: its settling waited out (moments), and the repository of a finished
   * run opened again after a restart.
   */
  const withWorkspace = async (run: Run): Promise<Run> => {
    await untilSettled(run);
    const closed = run.closedWorkspace;
    if (!closed) return run;
    try {
      run.openWorkspace(
        await GitWorkspace.open(closed.workdir, run.id, {
          home: options.home,
          ...(closed.start && { start: closed.start }),
          ...(closed.remote !== undefined && { remote: closed.remote }),
        }),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new OrcError(
        'INVALID_STATE',
        `run ${run.id} works on ${closed.workdir}, which cannot be opened (${reason}); start a new run there`,
      );
    }
    return run;
  };

  const startContext = {
    base,
    home: options.home,
    daemonLayers,
    hasApiKey: loaded.apiKey !== undefined,
    runs,
    depsFor,
    sourceFor,
  };
  return {
    async previewRun(input) {
      const { parsed, project, config } = await prepareRun(input, { ...startContext, base: currentBase() });
      return previewRun(
        { tasks: parsed.tasks, writeSimulated: parsed.taskmaster?.writeSimulated },
        project,
        modelsOf(config),
      );
    },
    async planGoal(input) {
      const config = runConfigOver(
        currentBase(),
        input.config,
        loaded.apiKey !== undefined,
        { home: options.home, layers: daemonLayers },
        input.configFrom,
      );
      return planGoal(input.goal, config, depsFor(config));
    },
    async startRun(input) {
      if (!isOpen())
        throw new OrcError('INVALID_STATE', 'the daemon is stopping; start the run again once it is back');
      const { run, source } = await startRun(input, { ...startContext, base: currentBase() });
      runs.add(track(run, source));
      logger.info({ runId: run.id, tasks: run.tasks.size, writeBack: run.source?.writeBack }, 'run started');
      return run.summary();
    },
    listRuns: () => runs.summaries(),
    checkRuns: (signal) => runs.checkHistories(signal),
    getRun: (runId, options) => runs.view(runId, options?.full === true),
    pageTasks: (runId, query) => runs.page(runId, query),
    getTask: (runId, taskId) => runs.use(runId, (run) => run.taskRecord(taskId)),
    taskDiff: (runId, taskId) =>
      runs.use(runId, (run) => {
        run.taskRecord(taskId); // an unknown task is TASK_NOT_FOUND
        return run.workdir === undefined ? undefined : taskDiff(run.workdir, runId, taskId);
      }),
    pauseRun: (runId) =>
      runs.use(runId, (run) => {
        pauseRun(run);
        return run.summary();
      }),
    resumeRun: (runId, options) =>
      runs.use(runId, (run) => {
        resumeRun(run, options);
        return run.summary();
      }),
    cancelRun: (runId) =>
      runs.use(runId, (run) => {
        cancelRun(run);
        return run.summary();
      }),
    async removeRun(runId) {
      await runs.remove(runId);
      await store.removeRun(runId);
      inbox.forget(runId);
      logger.info({ runId }, 'run removed');
    },
    retryTask: (runId, taskId, options) =>
      runs.use(runId, async (run) => {
        retryTask(await withWorkspace(run), taskId, options);
        return run.summary();
      }),
    retryCappedTasks: (runId, options) =>
      runs.use(runId, async (run) => {
        const taskIds = retryCapped(await withWorkspace(run), options);
        return { taskIds, run: run.summary() };
      }),
    skipTask: (runId, taskId) =>
      runs.use(runId, async (run) => {
        skipTask(await withWorkspace(run), taskId);
        return run.summary();
      }),
    addTasks: (runId, tasks) => runs.use(runId, async (run) => addTasks(await withWorkspace(run), tasks)),
    updateTask: (runId, taskId, changes) =>
      runs.use(runId, async (run) => updateTask(await withWorkspace(run), taskId, changes)),
    removeTask: (runId, taskId, dependents) =>
      runs.use(runId, async (run) => removeTask(await withWorkspace(run), taskId, dependents)),
    cancelTask: (runId, taskId) => runs.use(runId, (run) => cancelTask(run, taskId)),
    createCheckpoint: (runId, label) => runs.use(runId, (run) => run.checkpoints.create('manual', label)),
    listCheckpoints: (runId) => runs.use(runId, (run) => run.listCheckpoints()),
    rollback: (runId, checkpointRef, strategy, tasks) =>
      runs.use(runId, async (run) => {
        const outcome = await rollbackRun(await withWorkspace(run), checkpointRef, strategy, tasks);
        return { ...run.summary(), rollback: { strategy, ...outcome } };
      }),
    addFeedback: (runId, rating) => runs.use(runId, (run) => rateRun(run, rating)),
    runReport: (runId) => runs.use(runId, (run) => reportRun(run, clock.now(), true)),
    runsReport: (sinceMs) => reportRuns(runs, clock.now() - sinceMs, clock.now()),
    events: (runId, afterId, signal) => runs.events(runId, afterId, signal),
    eventBatches: (runId, afterId, signal, follow) => runs.eventBatches(runId, afterId, signal, follow),
    listInbox: (filter) => inbox.inbox.list(filter),
    answerInbox: (itemId, answer) => inbox.inbox.answer(itemId, answer),
    inboxEvents: (afterId, signal) => inbox.inbox.events(afterId, signal),
    notificationStatus: () => inbox.notifier.status(),
    waitForRun: (runId, signal) => runs.settled(runId, signal),
    baseConfig: () => base,
    hasApiKey: () => loaded.apiKey !== undefined,
    quotaStatus: () => {
      const own = governor.status();
      // The workers' quotas on Redis beside the daemon's own.
      return remote ? { ...own, models: [...own.models, ...remote.sharedQuotas()] } : own;
    },
    remoteWorkers: async () => remote && (await remote.status()),
    metrics,
    async close(graceMs = 10_000) {
      if (isOpen()) supervisor.send({ type: 'daemon.close', graceMs });
      await waitFor(supervisor, (s) => s.status === 'done', { timeout: Infinity });
    },
  };
}

/** V8's collector when the process was started with --expose-gc, nothing otherwise (tests in-process). */
function exposedGc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
