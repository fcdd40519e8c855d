import { idList, plural, simulatedLabel } from '@orc/shared';
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
          ? 'run a failed or blocked task again (--all-capped: every task stopped at the cost cap of a task)'
          : "skip a task: what depends on it goes on once the skipped task's own dependencies are done",
      )
      .argument('<run>', 'run id (or a unique prefix, or last)')
      .argument(action === 'retry' ? '[task]' : '<task>', 'task id')
      .option('--json', 'print one JSON document');
    if (action === 'retry')
      command
        .option(
          '--task-budget <usd>',
          "raise the run's cap on one task's cost (execution.max_task_cost_usd) to this (USD) first",
        )
        .option('--all-capped', 'run every task stopped at the cost cap of a task again, with one raise');
    type Options = JsonOption & { taskBudget?: string; allCapped?: boolean };
    command.action(async (ref: string, taskId: string | undefined, options: Options) => {
      const maxTaskCostUsd = options.taskBudget === undefined ? undefined : Number(options.taskBudget);
      if (maxTaskCostUsd !== undefined && !(Number.isFinite(maxTaskCostUsd) && maxTaskCostUsd > 0))
        throw new UsageError(
          `--task-budget must be a positive amount of US dollars (got "${options.taskBudget}")`,
        );
      if (options.allCapped && taskId !== undefined)
        throw new UsageError(
          `--all-capped retries every task stopped at the cost cap of a task; give it or a task (${taskId}), not both`,
        );
      if (options.allCapped)
        return retryCapped(ref, maxTaskCostUsd === undefined ? {} : { maxTaskCostUsd }, options);
      if (taskId === undefined)
        throw new UsageError(
          'give the task to retry, or --all-capped for every task stopped at the cost cap of a task',
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

/** `orc retry <run> --all-capped`: every task stopped at the cost cap of a task runs again, at once. */
async function retryCapped(
  ref: string,
  cap: { maxTaskCostUsd?: number },
  options: JsonOption,
): Promise<void> {
  await withClient(async (client) => {
    const runId = (await resolveRunRef(client, ref)).id;
    const { taskIds, run } = await client.trpc.tasks.retryCapped.mutate({ runId, ...cap });
    emit(options, { ...summaryJson(run), retried: taskIds }, () => {
      const list = idList(taskIds, 10);
      return `retrying ${plural(taskIds.length, 'task')} stopped at the cost cap of a task in ${run.id} (${run.status}): ${list}`;
    });
  });
}
