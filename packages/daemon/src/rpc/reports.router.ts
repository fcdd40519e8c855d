import { RunReportInput, RunsReportInput } from '@orc/shared';
import { procedure, router } from './trpc.js';

export const reportsRouter = router({
  /** One run: outcome, rework and failure reasons, spend per task, model and role, timeline, feedback. */
  run: procedure.input(RunReportInput).query(({ ctx, input }) => ctx.orchestrator.runReport(input.runId)),
  /** Every run created in the last `sinceMs`, summed up. */
  since: procedure
    .input(RunsReportInput)
    .query(({ ctx, input }) => ctx.orchestrator.runsReport(input.sinceMs)),
});
