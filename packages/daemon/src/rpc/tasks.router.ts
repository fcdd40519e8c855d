import { TaskRef } from '@orc/shared';
import { procedure, router } from './trpc.js';

export const tasksRouter = router({
  retry: procedure
    .input(TaskRef)
    .mutation(({ ctx, input }) => ctx.orchestrator.retryTask(input.runId, input.taskId)),
  skip: procedure
    .input(TaskRef)
    .mutation(({ ctx, input }) => ctx.orchestrator.skipTask(input.runId, input.taskId)),
});
