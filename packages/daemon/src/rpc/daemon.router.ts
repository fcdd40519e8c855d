import { MetricsInput, type RunSummary } from '@orc/shared';
import { procedure, router } from './trpc.js';

export const daemonRouter = router({
  /** Who is answering: pid, port, version, and how many runs it holds. */
  health: procedure.query(async ({ ctx }) => {
    const runs = ctx.orchestrator.listRuns();
    // A failed write pauses every run for storage, with why: the daemon's disk says the same.
    const storage = runs.find((run) => run.status === 'paused' && run.pauseReason === 'storage');
    return {
      ...ctx.daemon,
      uptimeMs: Date.now() - Date.parse(ctx.daemon.startedAt),
      runs: runs.length,
      activeRuns: runs.filter((run) => !['completed', 'failed', 'cancelled', 'damaged'].includes(run.status))
        .length,
      /** Whether the daemon has an API key (never the key): one started without it runs SIMULATED. */
      apiKey: ctx.orchestrator.hasApiKey(),
      /** Whether the state directory takes writes; when not, why (every run waits for it). */
      storage: storage
        ? { ok: false as const, error: storage.pauseMessage ?? 'the state directory cannot be written' }
        : { ok: true as const },
      /** The quotas the daemon paces, from the answers' rate-limit headers. */
      quota: ctx.orchestrator.quotaStatus(),
      /** The essentials of the Prometheus metrics (`daemon.metrics` has them all). */
      metrics: await ctx.orchestrator.metrics.vitals(),
    };
  }),
  /** The Redis backend's queue and the `orc worker` processes on it; null with the local backend. */
  workers: procedure.query(async ({ ctx }) => (await ctx.orchestrator.remoteWorkers()) ?? null),
  /** The Prometheus metrics: the text the metrics port serves, or the same as JSON. */
  metrics: procedure.input(MetricsInput).query(async ({ ctx, input }) => {
    const { metrics } = ctx.orchestrator;
    return input.format === 'json'
      ? { format: 'json' as const, metrics: await metrics.json() }
      : { format: 'prometheus' as const, contentType: metrics.contentType, text: await metrics.text() };
  }),
  /**
   * Stops the daemon gracefully once this reply is on its way; says how many runs have work under way,
   * which gets up to `graceMs` to finish first, so the one stopping it can say what it waits for.
   */
  stop: procedure.mutation(({ ctx }) => {
    const busy = (run: RunSummary) =>
      (run.taskCounts['running'] ?? 0) + (run.taskCounts['reviewing'] ?? 0) > 0 ||
      run.status === 'analyzing' ||
      run.status === 'reviewing';
    const underWay = ctx.orchestrator.listRuns().filter(busy).length;
    ctx.requestStop();
    return {
      pid: ctx.daemon.pid,
      stopping: true as const,
      underWay,
      ...(ctx.stopGraceMs !== undefined && { graceMs: ctx.stopGraceMs }),
    };
  }),
});
