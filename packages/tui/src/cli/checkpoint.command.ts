import { ROLLBACK_STRATEGY_SUMMARY, type RollbackResult, RollbackStrategy } from '@orc/shared';
import { type Command, Option } from 'commander';
import { plural } from '../screen/format.js';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit, summaryJson } from './output.js';
import { resolveRunRef } from './run-ref.js';

/** `orc checkpoint` (create or list) and `orc rollback`. */
export function registerCheckpointCommands(program: Command): void {
  program
    .command('checkpoint')
    .description('save a checkpoint of a run (or list them with --list)')
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .option('--label <label>', 'a name for the checkpoint')
    .option('--list', "list the run's checkpoints instead")
    .option('--json', 'print one JSON document')
    .action(async (ref: string, options: { label?: string; list?: boolean; json?: boolean }) => {
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
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
          () => `checkpoint ${checkpoint.id} of ${runId} (${plural(checkpoint.tasksDone, 'task')} done)`,
        );
      });
    });

  program
    .command('rollback')
    .description('restore a run to a checkpoint; says which tasks it reset and which done ones it kept')
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .argument('<checkpoint>', 'checkpoint id or label (see orc checkpoint <run> --list)')
    .addOption(
      new Option(
        '--strategy <strategy>',
        RollbackStrategy.options.map((s) => `${s}: ${ROLLBACK_STRATEGY_SUMMARY[s]}`).join('; '),
      ).default('full'),
    )
    .option('--tasks <ids>', 'selective only: comma-separated task ids (what depends on them is reset too)')
    .option('--json', 'print one JSON document')
    .action(
      async (
        ref: string,
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
        if (strategy.data !== 'selective' && options.tasks !== undefined) {
          throw new UsageError(
            `--tasks goes with --strategy selective; a ${strategy.data} rollback resets every task it needs to`,
          );
        }
        await withClient(async (client) => {
          const runId = (await resolveRunRef(client, ref)).id;
          const result = await client.trpc.checkpoints.rollback.mutate({
            runId,
            checkpointId,
            strategy: strategy.data,
            ...(tasks ? { tasks } : {}),
          });
          emit(options, summaryJson(result), () => rollbackLines(result));
        });
      },
    );
}

/** Which ids a line lists before "…". */
const LISTED_IDS = 20;

function rollbackLines(result: RollbackResult): string[] {
  const { checkpointId, strategy, reset, kept } = result.rollback;
  const ids = (list: string[]) =>
    list.length === 0
      ? ''
      : `: ${list.slice(0, LISTED_IDS).join(', ')}${list.length > LISTED_IDS ? `, … (${list.length} in all)` : ''}`;
  return [
    `rolled ${result.id} back to ${checkpointId} (${strategy}: ${ROLLBACK_STRATEGY_SUMMARY[strategy]})`,
    `reset ${reset.length} task${reset.length === 1 ? '' : 's'}${ids(reset)}`,
    `kept ${kept.length} done task${kept.length === 1 ? '' : 's'}${ids(kept)}`,
    result.status === 'paused'
      ? `${result.id} is paused; orc resume ${result.id} goes on${reset.length > 0 ? ' with the reset tasks' : ''}`
      : reset.length === 0
        ? `nothing to redo; ${result.id} stays ${result.status}`
        : `${result.id} is ${result.status}`,
  ];
}
