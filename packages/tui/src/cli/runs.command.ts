import { simulatedLabel } from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit, summaryJson } from './output.js';
import { resolveRunRef } from './run-ref.js';

interface JsonOption {
  json?: boolean;
}

/** The commands that act on a run or one of its tasks: pause, resume, cancel, retry, skip. */
export function registerRunsCommands(program: Command): void {
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    const command = program
      .command(action)
      .description(`${action} a run`)
      .argument('<run>', 'run id (or a unique prefix, or last)')
      .option('--json', 'print one JSON document');
    if (action === 'resume')
      command.option('--budget <usd>', 'go on within this new cost budget (USD) instead of past the old one');
    command.action(async (ref: string, options: JsonOption & { budget?: string }) => {
      const maxCostUsd = options.budget === undefined ? undefined : Number(options.budget);
      if (maxCostUsd !== undefined && !(Number.isFinite(maxCostUsd) && maxCostUsd > 0))
        throw new UsageError(`--budget must be a positive amount of US dollars (got "${options.budget}")`);
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
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
    const command = program
      .command(action)
      .description(
        action === 'retry'
          ? 'run a failed or blocked task again'
          : "skip a task: what depends on it goes on once the skipped task's own dependencies are done",
      )
      .argument('<run>', 'run id (or a unique prefix, or last)')
      .argument('<task>', 'task id')
      .option('--json', 'print one JSON document');
    if (action === 'retry')
      command.option(
        '--task-budget <usd>',
        "raise the run's cap on one task's cost (execution.max_task_cost_usd) to this (USD) first",
      );
    command.action(async (ref: string, taskId: string, options: JsonOption & { taskBudget?: string }) => {
      const maxTaskCostUsd = options.taskBudget === undefined ? undefined : Number(options.taskBudget);
      if (maxTaskCostUsd !== undefined && !(Number.isFinite(maxTaskCostUsd) && maxTaskCostUsd > 0))
        throw new UsageError(
          `--task-budget must be a positive amount of US dollars (got "${options.taskBudget}")`,
        );
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
        const summary =
          action === 'retry'
            ? await client.trpc.tasks.retry.mutate({
                runId,
                taskId,
                ...(maxTaskCostUsd !== undefined && { maxTaskCostUsd }),
              })
            : await client.trpc.tasks.skip.mutate({ runId, taskId });
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
