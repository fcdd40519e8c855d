import { RollbackStrategy } from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit, summaryJson } from './output.js';

/** `orc checkpoint` (create or list) and `orc rollback`. */
export function registerCheckpointCommands(program: Command): void {
  program
    .command('checkpoint')
    .description('save a checkpoint of a run (or list them with --list)')
    .argument('<run>', 'run id')
    .option('--label <label>', 'a name for the checkpoint')
    .option('--list', "list the run's checkpoints instead")
    .option('--json', 'print one JSON document')
    .action(async (runId: string, options: { label?: string; list?: boolean; json?: boolean }) => {
      await withClient(async (client) => {
        if (options.list) {
          const list = await client.trpc.checkpoints.list.query({ runId });
          emit(options, list, () =>
            list.length === 0
              ? `run ${runId} has no checkpoints`
              : list.map(
                  (cp) =>
                    `${cp.id}  ${cp.createdAt}  ${cp.reason.padEnd(15)} ${cp.tasksDone} done${cp.label ? `  "${cp.label}"` : ''}`,
                ),
          );
          return;
        }
        const checkpoint = await client.trpc.checkpoints.create.mutate({
          runId,
          ...(options.label !== undefined ? { label: options.label } : {}),
        });
        emit(
          options,
          checkpoint,
          () => `checkpoint ${checkpoint.id} of ${runId} (${checkpoint.tasksDone} tasks done)`,
        );
      });
    });

  program
    .command('rollback')
    .description('restore a run to a checkpoint')
    .argument('<run>', 'run id')
    .argument('<checkpoint>', 'checkpoint id (see orc checkpoint <run> --list)')
    .option('--strategy <strategy>', `${RollbackStrategy.options.join('|')}`, 'full')
    .option('--tasks <ids>', 'for selective: comma-separated task ids (their dependents are reset too)')
    .option('--json', 'print one JSON document')
    .action(
      async (
        runId: string,
        checkpointId: string,
        options: { strategy: string; tasks?: string; json?: boolean },
      ) => {
        const strategy = RollbackStrategy.safeParse(options.strategy);
        if (!strategy.success) {
          throw new UsageError(
            `--strategy must be one of ${RollbackStrategy.options.join(', ')} (got "${options.strategy}")`,
          );
        }
        const tasks = options.tasks
          ?.split(',')
          .map((id) => id.trim())
          .filter((id) => id.length > 0);
        if (strategy.data === 'selective' && (tasks === undefined || tasks.length === 0)) {
          throw new UsageError('--strategy selective needs --tasks a,b (the tasks to roll back)');
        }
        await withClient(async (client) => {
          const summary = await client.trpc.checkpoints.rollback.mutate({
            runId,
            checkpointId,
            strategy: strategy.data,
            ...(tasks ? { tasks } : {}),
          });
          emit(
            options,
            summaryJson(summary),
            () => `rolled ${runId} back to ${checkpointId} (${strategy.data}); now ${summary.status}`,
          );
        });
      },
    );
}
