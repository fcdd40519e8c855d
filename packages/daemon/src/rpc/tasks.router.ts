import { RetryCappedInput, RetryTaskInput, TaskPageInput, TaskRef } from '@orc/shared';
import { procedure, router } from './trpc.js';

export const tasksRouter = router({
  /**
   * A page of the run's task table, by a window of rows, by status, by a search of ids and titles: what a
   * client of a large run shows, without the whole run (`runs.get` carries only the first page).
   */
  page: procedure
    .input(TaskPageInput)
    .query(({ ctx, input }) => ctx.orchestrator.pageTasks(input.runId, input)),
  /** One task in full: result, attempts with their output or error, reviews. */
  get: procedure
    .input(TaskRef)
    .query(({ ctx, input }) => ctx.orchestrator.getTask(input.runId, input.taskId)),
  /** What the task changed in a repository run's repository (null for runs that only talk). */
  diff: procedure
    .input(TaskRef)
    .query(async ({ ctx, input }) => (await ctx.orchestrator.taskDiff(input.runId, input.taskId)) ?? null),
  retry: procedure.input(RetryTaskInput).mutation(({ ctx, input }) =>
    ctx.orchestrator.retryTask(input.runId, input.taskId, {
      ...(input.maxTaskCostUsd !== undefined && { maxTaskCostUsd: input.maxTaskCostUsd }),
    }),
  ),
  /** Every task stopped at the cost cap of a task runs again, with one raise of the cap for them all. */
  retryCapped: procedure.input(RetryCappedInput).mutation(({ ctx, input }) =>
    ctx.orchestrator.retryCappedTasks(input.runId, {
      ...(input.maxTaskCostUsd !== undefined && { maxTaskCostUsd: input.maxTaskCostUsd }),
    }),
  ),
  /** Stops the task's attempt and holds it until a person edits or retries it. */
  cancel: procedure
    .input(TaskRef)
    .mutation(({ ctx, input }) => ctx.orchestrator.cancelTask(input.runId, input.taskId)),
  skip: procedure
    .input(TaskRef)
    .mutation(({ ctx, input }) => ctx.orchestrator.skipTask(input.runId, input.taskId)),
});
