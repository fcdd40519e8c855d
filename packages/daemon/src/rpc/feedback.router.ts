import { AddFeedbackInput } from '@orc/shared';
import { procedure, router } from './trpc.js';

export const feedbackRouter = router({
  /** A person rates a run or one of its tasks (1–5, with a comment); kept in the run's journal. */
  add: procedure.input(AddFeedbackInput).mutation(({ ctx, input }) =>
    ctx.orchestrator.addFeedback(input.runId, {
      score: input.rating,
      ...(input.taskId !== undefined && { taskId: input.taskId }),
      ...(input.comment !== undefined && { comment: input.comment }),
    }),
  ),
});
