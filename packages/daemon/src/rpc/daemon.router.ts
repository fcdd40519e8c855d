import { procedure, router } from './trpc.js';

export const daemonRouter = router({
  /** Who is answering: pid, port, version, and how many runs it holds. */
  health: procedure.query(({ ctx }) => {
    const runs = ctx.orchestrator.listRuns();
    return {
      ...ctx.daemon,
      uptimeMs: Date.now() - Date.parse(ctx.daemon.startedAt),
      runs: runs.length,
      activeRuns: runs.filter((run) => !['completed', 'failed', 'cancelled', 'damaged'].includes(run.status))
        .length,
      /** Whether the daemon has an API key (never the key): one started without it runs SIMULATED. */
      apiKey: ctx.orchestrator.hasApiKey(),
      /** The quotas the daemon paces, from the answers' rate-limit headers. */
      quota: ctx.orchestrator.quotaStatus(),
    };
  }),
  /** Stops the daemon gracefully once this reply is on its way. */
  stop: procedure.mutation(({ ctx }) => {
    ctx.requestStop();
    return { pid: ctx.daemon.pid, stopping: true as const };
  }),
});
