import { randomBytes } from 'node:crypto';
import {
  FINISHED_RUN_STATUSES,
  OrcError,
  StartRunInput,
  assertValidTaskGraph,
  loadConfig,
  resolveConfig,
  type ConfigInput,
  type LoadedConfig,
  type ProviderName,
  type ResolvedConfig,
} from '@orc/shared';
import { pino, type Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { createAnthropicProvider } from '../model/anthropic-provider.js';
import { createClaudeCodeProvider } from '../model/claude-code-provider.js';
import { GitWorkspace } from '../workspace/git-workspace.js';
import type { ModelProvider } from '../model/provider.js';
import { createSimulatedProvider } from '../model/simulated-provider.js';
import { openFileRunStore } from '../store/file-run-store.js';
import type { RunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import { SlotPool } from './concurrency.js';
import type { Orchestrator } from './orchestrator.js';
import { loadTaskMasterProject } from '../taskmaster/import-tasks.js';
import { RunRegistry } from './run-registry.js';
import { Run, type RunDeps } from './run.js';
import { syncToTaskMaster } from './taskmaster-sync.js';

/** Builds the provider of one role of one run; tests pass their own. */
export type ProviderFactory = (
  name: ProviderName,
  config: ResolvedConfig,
  context: { apiKey: string | undefined; clock: Clock },
) => ModelProvider;

export interface OrchestratorOptions {
  /** The state directory (`ORC_HOME`). */
  home: string;
  /** The base configuration; loaded from the environment and `home/orc.config.json` when absent. */
  loaded?: LoadedConfig;
  /** Overrides on top of the base configuration. */
  config?: ConfigInput;
  logger?: Logger;
  clock?: Clock;
  providers?: ProviderFactory;
  /** Injected store (tests); the file store under `home` otherwise. */
  store?: RunStore;
  /** First backoff step between retries (default 500 ms). */
  retryBaseMs?: number;
  /** How long a finished run stays in memory after its last use (default 30 s). */
  finishedRunIdleMs?: number;
}

export const defaultProviders: ProviderFactory = (name, config, { apiKey, clock }) => {
  switch (name) {
    case 'simulated':
      return createSimulatedProvider({
        seed: config.simulated.seed,
        latencyMs: config.simulated.latency_ms,
        clock,
      });
    case 'anthropic':
      return createAnthropicProvider({
        apiKey,
        ...(config.models.base_url !== undefined && { baseURL: config.models.base_url }),
      });
    case 'claude-code': {
      const cli = config.claude_cli;
      return createClaudeCodeProvider({
        command: cli.command,
        flags: {
          permission_mode: cli.permission_mode,
          dangerously_skip_permissions: cli.dangerously_skip_permissions,
          ...(cli.allowed_tools && { allowed_tools: cli.allowed_tools }),
          ...(cli.disallowed_tools && { disallowed_tools: cli.disallowed_tools }),
          ...(cli.max_turns !== undefined && { max_turns: cli.max_turns }),
          ...(cli.add_dirs && { add_dirs: cli.add_dirs }),
        },
        environment: cli.environment,
        timeoutMs: config.execution.worker_timeout * 1000,
      });
    }
  }
};

/**
 * Opens the engine on a state directory: every persisted run is restored (runs that were executing go
 * on by themselves), and new runs can be started from a goal or a task list.
 */
export async function createOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const clock = options.clock ?? systemClock;
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
  /** Providers with processes of their own (claude-code agents), ended on close. */
  const stoppable: { stop(): unknown }[] = [];
  /** Task Master write-backs by run, drained on close so no status is lost. */
  const syncs = new Map<string, { stop: () => void; idle: () => Promise<void> }>();
  let closed = false;

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
      logger: logger.child({ component: 'run' }),
      slots,
      providers: made,
      retryBaseMs: options.retryBaseMs ?? 500,
      ...(workspace && { workspace }),
    };
  };

  const track = (run: Run, restored = false): Run => {
    if (run.source) {
      const sync = syncToTaskMaster(
        run.source,
        (listener) => run.onEvent(listener),
        logger.child({ runId: run.id }),
        restored ? run.view(true).tasks : undefined,
      );
      run.beforeFinish(sync.idle);
      syncs.set(run.id, sync);
    }
    return run;
  };

  const restore = async (doc: RunDocument): Promise<Run> => {
    let workspace: GitWorkspace | undefined;
    if (doc.workspace && !FINISHED_RUN_STATUSES.has(doc.status)) {
      workspace = await GitWorkspace.open(doc.workspace.workdir, doc.id);
      // Worktrees left by the crash: their changes go to attempt branches, then they are removed.
      await workspace.recover();
    }
    return track(await Run.restore(depsFor(doc.config as unknown as ResolvedConfig, workspace), doc), true);
  };
  // Active runs are restored now; finished ones stay on disk until a call needs them.
  const runs = new RunRegistry({
    store,
    clock,
    logger,
    restore,
    onUnload: async (runId) => {
      const sync = syncs.get(runId);
      syncs.delete(runId);
      await sync?.idle();
      sync?.stop();
    },
    ...(options.finishedRunIdleMs !== undefined && { idleMs: options.finishedRunIdleMs }),
  });
  await runs.open();

  /** Opens the repository of a finished run that is given work again after a restart. */
  const withWorkspace = async (run: Run): Promise<Run> => {
    const closed = run.closedWorkspace;
    if (!closed) return run;
    try {
      run.openWorkspace(await GitWorkspace.open(closed.workdir, run.id));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new OrcError(
        'INVALID_STATE',
        `run ${run.id} works on ${closed.workdir}, which cannot be opened (${reason}); start a new run there`,
      );
    }
    return run;
  };

  const newRunId = (): string => {
    for (;;) {
      const id = `r${randomBytes(4).toString('hex').slice(0, 7)}`;
      if (!runs.has(id)) return id;
    }
  };

  return {
    async startRun(rawInput) {
      if (closed)
        throw new OrcError('INVALID_STATE', 'the daemon is stopping; start the run again once it is back');
      const parsed = StartRunInput.safeParse(rawInput);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        throw new OrcError('TASK_FILE_INVALID', `invalid run: ${where}${issue.message}`);
      }
      const input = parsed.data;
      if (input.tasks)
        assertValidTaskGraph(input.tasks, input.source ?? 'the task list', 'TASK_FILE_INVALID');
      const project = input.taskmaster
        ? await loadTaskMasterProject(input.taskmaster.path, { tag: input.taskmaster.tag })
        : undefined;
      if (project && project.specs.length === 0) {
        throw new OrcError(
          'TASK_FILE_INVALID',
          `${project.file} (tag ${project.tag}) has no task to run: ${project.skipped.length} done or cancelled, ${project.notRunnable.length} deferred or blocked`,
        );
      }
      const config = input.config
        ? resolveConfig(
            [
              { source: 'daemon configuration', values: base },
              { source: 'run configuration', values: input.config },
            ],
            loaded.apiKey !== undefined,
          )
        : base;
      const id = newRunId();
      const workerProvider = config.models.worker.provider ?? config.models.provider;
      // Claude Code workers edit a repository: each run works on its own integration branch there.
      const workspace =
        workerProvider === 'claude-code'
          ? await GitWorkspace.open(input.workdir ?? process.cwd(), id)
          : undefined;
      const deps = depsFor(config, workspace);
      const imported = project
        ? [
            ...project.specs,
            // Deferred and blocked tasks are shown, held, without links the engine could never satisfy.
            ...project.notRunnable.map((t) => ({
              id: t.id,
              title: t.title,
              description: t.reason,
              dependencies: [],
              priority: 'medium' as const,
            })),
          ]
        : input.tasks;
      const goal =
        input.goal ??
        (project
          ? `Complete the Task Master tasks of ${project.file} (tag ${project.tag})`
          : `Complete the ${input.tasks!.length} tasks from ${input.source ?? 'the task list'}`);
      const run = track(
        await Run.create(deps, {
          id,
          goal,
          imported,
          ...(project && {
            held: Object.fromEntries(project.notRunnable.map((t) => [t.id, `${t.status}: ${t.reason}`])),
            source: { kind: 'taskmaster' as const, file: project.file, tag: project.tag },
          }),
          ...(workspace && { workspace: { workdir: workspace.repo, merge: input.merge === true } }),
          config,
          simulated:
            deps.providers.manager.name === 'simulated' || deps.providers.worker.name === 'simulated',
        }),
      );
      runs.add(run);
      logger.info({ runId: run.id, tasks: imported?.length }, 'run started');
      return run.summary();
    },
    listRuns: () => runs.summaries(),
    getRun: (runId, options) => runs.view(runId, options?.full === true),
    getTask: (runId, taskId) => runs.use(runId, (run) => run.taskRecord(taskId)),
    pauseRun: (runId) =>
      runs.use(runId, (run) => {
        run.pause('user');
        return run.summary();
      }),
    resumeRun: (runId, options) =>
      runs.use(runId, (run) => {
        run.resume(options);
        return run.summary();
      }),
    cancelRun: (runId) =>
      runs.use(runId, (run) => {
        run.cancel();
        return run.summary();
      }),
    retryTask: (runId, taskId) =>
      runs.use(runId, async (run) => {
        (await withWorkspace(run)).retryTask(taskId);
        return run.summary();
      }),
    skipTask: (runId, taskId) =>
      runs.use(runId, async (run) => {
        (await withWorkspace(run)).skipTask(taskId);
        return run.summary();
      }),
    createCheckpoint: (runId, label) => runs.use(runId, (run) => run.checkpoint('manual', label)),
    listCheckpoints: (runId) => runs.use(runId, (run) => run.listCheckpoints()),
    rollback: (runId, checkpointId, strategy, tasks) =>
      runs.use(runId, async (run) => {
        await (await withWorkspace(run)).rollback(checkpointId, strategy, tasks);
        return run.summary();
      }),
    events: (runId, afterId, signal) => runs.events(runId, afterId, signal),
    waitForRun: (runId, signal) => runs.settled(runId, signal),
    baseConfig: () => base,
    async close(graceMs = 10_000) {
      if (closed) return;
      closed = true;
      await runs.close(graceMs);
      await Promise.all(stoppable.map((provider) => provider.stop()));
      await Promise.all([...syncs.values()].map((sync) => sync.idle()));
      for (const sync of syncs.values()) sync.stop();
      await store.close();
    },
  };
}
