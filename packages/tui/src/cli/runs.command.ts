import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { damageText, emit, formatCounts, runLine, simulatedLabel, summaryJson, truncate } from './output.js';

interface JsonOption {
  json?: boolean;
}

/** `orc ls`, `orc show`, and the commands that act on a run or one of its tasks. */
export function registerRunsCommands(program: Command): void {
  program
    .command('ls')
    .description('list runs')
    .option('--json', 'print one JSON document')
    .action(async (options: JsonOption) => {
      await withClient(async (client) => {
        const runs = await client.trpc.runs.list.query();
        emit(options, runs.map(summaryJson), () =>
          runs.length === 0 ? 'no runs yet; start one with orc run <goal>' : runs.map(runLine),
        );
      });
    });

  program
    .command('show')
    .description('show a run and its tasks')
    .argument('<run>', 'run id')
    .option('--json', 'print one JSON document')
    .action(async (runId: string, options: JsonOption) => {
      await withClient(async (client) => {
        const run = await client.trpc.runs.get.query({ runId, full: true });
        emit(options, summaryJson(run), () => [
          `run ${run.id} ${run.status}${run.pauseReason ? ` (${run.pauseReason})` : ''}${simulatedLabel(run)}`,
          `goal: ${run.goal}`,
          `models: manager ${run.models.manager.provider}/${run.models.manager.model}, worker ${run.models.worker.provider}/${run.models.worker.model}`,
          `tasks: ${formatCounts(run)}; cost $${run.costUsd.toFixed(4)}; last event #${run.lastEventId}`,
          ...(run.error ? [`error: ${run.error}`] : []),
          ...(run.damage ? [damageText(run.damage)] : []),
          ...run.tasks.map(
            (task) => `  ${task.id.padEnd(12)} ${task.status.padEnd(10)} ${truncate(task.title, 70)}`,
          ),
          ...(run.finalReview ? [`review: ${run.finalReview.verdict}: ${run.finalReview.summary}`] : []),
        ]);
      });
    });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    const command = program
      .command(action)
      .description(`${action} a run`)
      .argument('<run>', 'run id')
      .option('--json', 'print one JSON document');
    if (action === 'resume')
      command.option('--budget <usd>', 'go on within this new cost budget (USD) instead of past the old one');
    command.action(async (runId: string, options: JsonOption & { budget?: string }) => {
      const maxCostUsd = options.budget === undefined ? undefined : Number(options.budget);
      if (maxCostUsd !== undefined && !(Number.isFinite(maxCostUsd) && maxCostUsd > 0))
        throw new UsageError(`--budget must be a positive amount of US dollars (got "${options.budget}")`);
      await withClient(async (client) => {
        const summary =
          action === 'resume'
            ? await client.trpc.runs.resume.mutate({
                runId,
                ...(maxCostUsd !== undefined && { maxCostUsd }),
              })
            : await client.trpc.runs[action].mutate({ runId });
        emit(
          options,
          summaryJson(summary),
          () => `${summary.id} ${summary.status}${simulatedLabel(summary)}`,
        );
      });
    });
  }

  for (const action of ['retry', 'skip'] as const) {
    program
      .command(action)
      .description(
        action === 'retry' ? 'run a failed or blocked task again' : 'skip a task (its dependents may go on)',
      )
      .argument('<run>', 'run id')
      .argument('<task>', 'task id')
      .option('--json', 'print one JSON document')
      .action(async (runId: string, taskId: string, options: JsonOption) => {
        await withClient(async (client) => {
          const summary = await client.trpc.tasks[action].mutate({ runId, taskId });
          emit(
            options,
            summaryJson(summary),
            () =>
              `${action === 'retry' ? 'retrying' : 'skipped'} ${taskId} in ${summary.id} (${summary.status})`,
          );
        });
      });
  }
}
