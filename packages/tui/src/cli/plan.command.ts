import { resolve } from 'node:path';
import { type ConfigInput, type GoalPlan, LIMITS, formatCount, loadConfig, ProviderName } from '@orc/shared';
import { resolveTag } from '@orc/daemon/client';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit, printJson } from './output.js';
import {
  TASKMASTER_TASKS,
  readTaskMasterTarget,
  refuseExisting,
  taskMasterText,
  tasksFileText,
  writeWhole,
} from './plan-files.js';

interface PlanOptions {
  out?: string;
  taskmaster?: string | boolean;
  tag?: string;
  force?: boolean;
  provider?: string;
  json?: boolean;
}

/**
 * `orc plan "<goal>"`: the manager plans the goal as a run would, and the plan is written, not run, so a
 * person can read and edit it before `orc run`. To a tasks file (`--out`), a Task Master project
 * (`--taskmaster`), or stdout.
 */
export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('ask the manager for a plan of a goal and write it without running it')
    .argument('<goal...>', 'the goal in words')
    .option('--out <file>', 'write a tasks file orc run takes (default: print it)')
    .option(
      '--taskmaster [dir]',
      'write the tasks into a Task Master project (default: the current directory)',
    )
    .option(
      '--tag <tag>',
      'the Task Master tag to write (default: TASKMASTER_TAG, the current tag, then master)',
    )
    .option('--force', 'replace an existing --out file, or the tasks of the tag')
    .option('--provider <name>', `model provider: ${ProviderName.options.join(', ')}`)
    .option('--json', 'print the plan and where it was written as one JSON document')
    .action(async (words: string[], options: PlanOptions) => {
      await planCommand(words.join(' ').trim(), options);
    });
}

async function planCommand(goal: string, options: PlanOptions): Promise<void> {
  if (goal === '') throw new UsageError('give the goal to plan, in words');
  if (goal.length > LIMITS.goalChars)
    throw new UsageError(
      `the goal is ${formatCount(goal.length)} characters, over the limit of ${formatCount(LIMITS.goalChars)}; shorten it`,
    );
  if (options.out !== undefined && options.taskmaster !== undefined)
    throw new UsageError('give --out or --taskmaster, not both');
  if (options.tag !== undefined && options.taskmaster === undefined)
    throw new UsageError('--tag goes with --taskmaster <dir>');
  const overrides: ConfigInput = {};
  if (options.provider !== undefined) {
    const provider = ProviderName.safeParse(options.provider);
    if (!provider.success)
      throw new UsageError(
        `--provider must be one of ${ProviderName.options.join(', ')} (got "${options.provider}")`,
      );
    overrides.models = { provider: provider.data };
  }
  // Only what the user set: the daemon puts it over its own configuration (see orc run).
  const { set: config, setBy: configFrom } = loadConfig({ overrides });

  // What would be replaced is checked before the manager is asked: a refusal costs nothing.
  const target = await targetOf(options);
  const plan = await withClient((client) => client.trpc.runs.plan.mutate({ goal, config, configFrom }));
  const written = await target?.write(plan);
  // A plan is the manager's alone: it is simulated when the manager is, whatever the workers are.
  const simulated = plan.models.manager.provider === 'simulated';
  if (!target) {
    if (options.json) printJson(plan);
    else process.stdout.write(tasksFileText(plan));
    if (simulated && !options.json)
      process.stderr.write('orc: this plan is SIMULATED (the offline model), not a real plan\n');
    return;
  }
  emit(options, { ...plan, simulated, written }, () => [
    `${simulated ? '[SIMULATED] ' : ''}planned ${plan.tasks.length} task${plan.tasks.length === 1 ? '' : 's'}: ${plan.summary}`,
    ...plan.tasks.map(
      (task) =>
        `  ${task.id}  ${task.title}${task.dependencies.length ? ` (after ${task.dependencies.join(', ')})` : ''}`,
    ),
    `written to ${written}; read and edit it, then ${target.next}`,
  ]);
}

interface Target {
  write(plan: GoalPlan): Promise<string>;
  /** What to run next, for the person. */
  next: string;
}

async function targetOf(options: PlanOptions): Promise<Target | undefined> {
  const force = options.force === true;
  if (options.out !== undefined) {
    const file = resolve(options.out);
    refuseExisting(file, force);
    return {
      write: async (plan) => {
        refuseExisting(file, force);
        await writeWhole(file, tasksFileText(plan));
        return file;
      },
      next: `orc run ${options.out}`,
    };
  }
  if (options.taskmaster === undefined) return undefined;
  const dir = resolve(typeof options.taskmaster === 'string' ? options.taskmaster : '.');
  const file = resolve(dir, TASKMASTER_TASKS);
  const { tag } = await resolveTag(file, { tag: options.tag });
  readTaskMasterTarget(file, tag, force);
  return {
    write: async (plan) => {
      const data = readTaskMasterTarget(file, tag, force);
      await writeWhole(file, taskMasterText(data, tag, plan, new Date().toISOString()));
      return file;
    },
    next: `orc run --taskmaster ${dir} --tag ${tag} (or task-master list --tag ${tag})`,
  };
}
