import { CreateCheckpointInput, RollbackInput, RunRef } from '@orc/shared';
import { procedure, router } from './trpc.js';

export const checkpointsRouter = router({
  create: procedure
    .input(CreateCheckpointInput)
    .mutation(({ ctx, input }) => ctx.orchestrator.createCheckpoint(input.runId, input.label)),
  list: procedure.input(RunRef).query(({ ctx, input }) => ctx.orchestrator.listCheckpoints(input.runId)),
  rollback: procedure
    .input(RollbackInput)
    .mutation(({ ctx, input }) =>
      ctx.orchestrator.rollback(input.runId, input.checkpointId, input.strategy, input.tasks),
    ),
});
