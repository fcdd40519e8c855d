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
  type RunSummary,
} from '@orc/shared';
import { pino, type Logger } from 'pino';
import { createActor, fromPromise, waitFor } from 'xstate';
import { orchestratorMachine } from '../actors/orchestrator.machine.js';
import { systemClock, type Clock } from '../clock.js';
import { seededRandom, type Random } from '../model/seeded-random.js';
import { restoreRun } from '../run/restore-run.js';
import { cancelRun, pauseRun, resumeRun, retryTask, rollbackRun, skipTask } from '../run/run-control.js';
import type { Run, RunDeps } from '../run/run.js';
import { SlotPool } from '../scheduling/concurrency.js';
import { openFileRunStore } from '../store/file-run-store.js';
import type { RunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import { TaskMasterSource } from '../taskmaster/taskmaster-source.js';
import { GitWorkspace } from '../workspace/git-workspace.js';
import { taskDiff } from '../workspace/task-diff.js';
import type { Orchestrator } from './orchestrator.js';
import { defaultProviders, type ProviderFactory } from './providers.js';
import { modelsOf, previewRun } from './run-preview.js';
import { prepareRun, startRun } from './start-run.js';

export { defaultProviders, type ProviderFactory } from './providers.js';

export interface OrchestratorOptions {
  /** The state directory (`ORC_HOME`). */
  home: string;
  /** The base configuration; loaded from the environment and `home/orc.config.json` when absent. */
  loaded?: LoadedConfig;
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
  const base = options.config
    ? resolveConfig(
        [
          { source: 'base configuration', values: loaded.config },
          { source: 'options', values: options.config },
        ],
        loaded.apiKey !== undefined,
      )
    : loaded.config;
  const store = options.store ?? (await openFileRunStore(options.home));
  const slots = new SlotPool(base.execution.machine_max_in_flight);
  const providers = options.providers ?? defaultProviders;
  const runs = new Map<string, Run>();
  /** Providers with processes of their own (claude-code agents), ended on close. */
  const stoppable: { stop(): unknown }[] = [];
  /** Task Master sources and their write-backs by run, drained on close so no status is lost. */
  const syncs = new Map<string, TaskMasterSource>();

  const supervisor = createActor(
    orchestratorMachine.provide({
      actors: {
        closeRuns: fromPromise(async ({ input }) => {
          await Promise.all([...runs.values()].map((run) => run.close(input.graceMs)));
          await Promise.all(stoppable.map((provider) => provider.stop()));
          await Promise.all([...syncs.values()].map((sync) => sync.idle()));
          for (const sync of syncs.values()) sync.stop();
          await store.close();
        }),
      },
    }),
  );
  supervisor.start();
  const isOpen = () => supervisor.getSnapshot().matches('open');

  const depsFor = (config: ResolvedConfig, workspace?: GitWorkspace): RunDeps => {
    const context = { apiKey: loaded.apiKey, clock };
    const made = {
      manager: providers(config.models.manager.provider ?? config.models.provider, config, context),
      worker: providers(config.models.worker.provider ?? config.models.provider, config, context),
    };
    for (const provider of Object.values(made)) {
      if ('stop' in provider && typeof provider.stop === 'function')
        stoppable.push(provider as { stop(): unknown });
    }
    return {
      store,
      clock,
      random,
      logger: logger.child({ component: 'run' }),
      slots,
      providers: made,
      retryBaseMs: options.retryBaseMs ?? 500,
      parent: supervisor,
      ...(workspace && { workspace }),
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
      logger: logger.child({ runId }),
    });

  /** Registers a run as the supervisor's child and keeps its Task Master source in step with it. */
  const track = (run: Run, source: TaskMasterSource | undefined, restored = false): Run => {
    runs.set(run.id, run);
    supervisor.send({ type: 'run.opened', runId: run.id, ref: run.actor });
    if (source) {
      source.follow(
        (listener) => run.onEvent(listener),
        (taskId, change) => run.scheduler.sourceChanged(taskId, change),
        restored ? run.view(true).tasks : undefined,
      );
      run.beforeFinish(() => source.idle());
      syncs.set(run.id, source);
    }
    return run;
  };

  const { runs: docs, problems } = await store.loadRuns();
  for (const problem of problems) logger.error({ problem }, 'a persisted run cannot be restored');
  for (const doc of docs) {
    try {
      let workspace: GitWorkspace | undefined;
      if (doc.workspace && !FINISHED_RUN_STATUSES.has(doc.status)) {
        // The run's restore deals with the worktrees the crash left: resumed, or removed with work kept.
        workspace = await GitWorkspace.open(doc.workspace.workdir, doc.id, {
          home: options.home,
          ...(doc.workspace.start && { start: doc.workspace.start }),
        });
      }
      const config = parseResolvedConfig(doc.config, `the configuration saved with run ${doc.id}`);
      const source = sourceFor(doc.id, doc.source);
      const deps = { ...depsFor(config, workspace), ...(source && { source }) };
      track(await restoreRun(deps, doc, config), source, true);
    } catch (error) {
      logger.error({ err: error, runId: doc.id }, 'a persisted run cannot be restored');
    }
  }

  /** Opens the repository of a finished run that is given work again after a restart. */
  const withWorkspace = async (run: Run): Promise<Run> => {
    const closed = run.closedWorkspace;
    if (!closed) return run;
    try {
      run.openWorkspace(
        await GitWorkspace.open(closed.workdir, run.id, {
          home: options.home,
          ...(closed.start && { start: closed.start }),
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

  const runOf = (runId: string): Run => {
    const run = runs.get(runId);
    if (!run) throw new OrcError('RUN_NOT_FOUND', `no run ${runId}; orc ls lists the runs`);
    return run;
  };

  const startContext = {
    base,
    home: options.home,
    hasApiKey: loaded.apiKey !== undefined,
    runs,
    depsFor,
    sourceFor,
  };
  return {
    async previewRun(input) {
      const { parsed, project, config } = await prepareRun(input, startContext);
      return previewRun(
        { tasks: parsed.tasks, writeSimulated: parsed.taskmaster?.writeSimulated },
        project,
        modelsOf(config),
      );
    },
    async startRun(input) {
      if (!isOpen())
        throw new OrcError('INVALID_STATE', 'the daemon is stopping; start the run again once it is back');
      const { run, source } = await startRun(input, startContext);
      track(run, source);
      logger.info({ runId: run.id, tasks: run.tasks.size, writeBack: run.source?.writeBack }, 'run started');
      return run.summary();
    },
    listRuns: () => [...runs.values()].map((r) => r.summary()).sort(byCreated),
    getRun: (runId, options) => runOf(runId).view(options?.full === true),
    getTask: (runId, taskId) => runOf(runId).taskRecord(taskId),
    async taskDiff(runId, taskId) {
      const run = runOf(runId);
      run.taskRecord(taskId); // an unknown task is TASK_NOT_FOUND
      return run.workdir === undefined ? undefined : taskDiff(run.workdir, runId, taskId);
    },
    pauseRun(runId) {
      const run = runOf(runId);
      pauseRun(run);
      return run.summary();
    },
    resumeRun(runId, options) {
      const run = runOf(runId);
      resumeRun(run, options);
      return run.summary();
    },
    cancelRun(runId) {
      const run = runOf(runId);
      cancelRun(run);
      return Promise.resolve(run.summary());
    },
    async removeRun(runId) {
      const run = runOf(runId);
      const { status } = run.summary();
      if (!FINISHED_RUN_STATUSES.has(status))
        throw new OrcError(
          'INVALID_STATE',
          `run ${runId} is ${status}; cancel it first (orc cancel ${runId})`,
        );
      runs.delete(runId);
      await run.close(0);
      supervisor.send({ type: 'run.released', runId });
      await syncs.get(runId)?.idle();
      syncs.get(runId)?.stop();
      syncs.delete(runId);
      await store.removeRun(runId);
      logger.info({ runId }, 'run removed');
    },
    async retryTask(runId, taskId) {
      const run = await withWorkspace(runOf(runId));
      retryTask(run, taskId);
      return run.summary();
    },
    async skipTask(runId, taskId) {
      const run = await withWorkspace(runOf(runId));
      skipTask(run, taskId);
      return run.summary();
    },
    createCheckpoint: (runId, label) => runOf(runId).checkpoints.create('manual', label),
    listCheckpoints: (runId) => runOf(runId).listCheckpoints(),
    async rollback(runId, checkpointId, strategy, tasks) {
      const run = await withWorkspace(runOf(runId));
      const outcome = await rollbackRun(run, checkpointId, strategy, tasks);
      return { ...run.summary(), rollback: { checkpointId, strategy, ...outcome } };
    },
    events: (runId, afterId, signal) => runOf(runId).events(afterId, signal),
    waitForRun: (runId, signal) => runOf(runId).settled(signal),
    baseConfig: () => base,
    hasApiKey: () => loaded.apiKey !== undefined,
    async close(graceMs = 10_000) {
      if (isOpen()) supervisor.send({ type: 'daemon.close', graceMs });
      await waitFor(supervisor, (s) => s.status === 'done', { timeout: Infinity });
    },
  };
}

function byCreated(a: RunSummary, b: RunSummary): number {
  return a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
}
