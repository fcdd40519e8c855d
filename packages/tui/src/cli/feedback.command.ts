import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit } from './output.js';
import { resolveRunRef } from './run-ref.js';

/**
 * `orc feedback <run> [task] --rating 1-5 [--comment …]`: a person's rating of a run's work, or one task's,
 * kept in the run's journal; `orc report` shows it beside the manager's verdicts.
 */
export function registerFeedbackCommand(program: Command): void {
  program
    .command('feedback')
    .description("rate a run's work, or one task's, from 1 to 5; shown in orc report")
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .argument('[task]', 'a task id: rate that task rather than the whole run')
    .requiredOption('--rating <1-5>', 'how good the work was: 1 (useless) to 5 (just right)')
    .option('--comment <text>', 'what was good or wrong about it')
    .option('--json', 'print one JSON document')
    .action(
      async (
        ref: string,
        taskId: string | undefined,
        options: { rating: string; comment?: string; json?: boolean },
      ) => {
        const rating = parseRating(options.rating);
        const comment = options.comment?.trim();
        await withClient(async (client) => {
          const runId = (await resolveRunRef(client, ref)).id;
          const saved = await client.trpc.feedback.add.mutate({
            runId,
            rating,
            ...(taskId !== undefined && { taskId }),
            ...(comment && { comment }),
          });
          emit(
            options,
            { runId, ...saved },
            () =>
              `rated ${taskId === undefined ? `run ${runId}` : `task ${taskId} of run ${runId}`} ${rating}/5`,
          );
        });
      },
    );
}

function parseRating(text: string): number {
  const rating = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || rating < 1 || rating > 5)
    throw new UsageError(`--rating must be a whole number from 1 to 5 (got "${text}")`);
  return rating;
}
