import {
  Priority,
  TaskId,
  Touches,
  type PlanEditResult,
  type RemoveDependents,
  type TaskChanges,
  simulatedLabel,
} from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit, summaryJson } from './output.js';
import { resolveRunRef } from './run-ref.js';

interface SpecOptions {
  title?: string;
  description?: string;
  deps?: string;
  priority?: string;
  json?: boolean;
}

/**
 * `orc task add|edit|rm|cancel`: a person edits a running plan. The daemon checks every edit before it
 * applies it (an unknown task exits 3, a conflict with the plan or with what the run is doing exits 4).
 */
export function registerTaskCommands(program: Command): void {
  const task = program.command('task').description("edit a run's plan while it runs: add, edit, rm, cancel");

  task
    .command('add')
    .description('add a task to a run (a finished run given a task runs again)')
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .requiredOption('--title <title>', 'what the task is, in a line')
    .option('--description <text>', 'what the worker must produce', '')
    .option('--deps <ids>', 'comma-separated ids of the tasks it waits for')
    .option('--priority <priority>', Priority.options.join(', '), 'medium')
    .option('--id <id>', 'its id (default: the next free one)')
    // Repeated, not comma-separated: a glob's {a,b} has commas of its own.
    .option(
      '--touches <path>',
      'a path or glob it edits; give it again for more (tasks whose touches overlap take turns)',
      (path: string, paths: string[] = []) => [...paths, path],
    )
    .option('--json', 'print one JSON document')
    .action(async (ref: string, options: SpecOptions & { id?: string; touches?: string[] }) => {
      const id = options.id === undefined ? undefined : taskIdOption(options.id);
      const touches = options.touches === undefined ? undefined : touchesOption(options.touches);
      const spec = {
        title: nonEmpty('--title', options.title ?? ''),
        description: options.description ?? '',
        dependencies: depsOption(options.deps) ?? [],
        priority: priorityOption(options.priority ?? 'medium'),
        ...(id !== undefined && { id }),
        ...(touches !== undefined && { touches }),
      };
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
        const result = await client.trpc.runs.addTasks.mutate({ runId, tasks: [spec] });
        print(options, result, `added ${result.added.join(', ')} to`);
      });
    });

  task
    .command('edit')
    .description('change a task that is not in flight (cancel it first); a cancelled task waits to run again')
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .argument('<task>', 'task id')
    .option('--title <title>', 'a new title')
    .option('--description <text>', 'a new description')
    .option('--deps <ids>', 'the tasks it waits for, comma-separated (replaces them; "" for none)')
    .option('--priority <priority>', Priority.options.join(', '))
    .option('--json', 'print one JSON document')
    .action(async (ref: string, taskId: string, options: SpecOptions) => {
      const dependencies = depsOption(options.deps);
      const changes: TaskChanges = {
        ...(options.title !== undefined && { title: nonEmpty('--title', options.title) }),
        ...(options.description !== undefined && { description: options.description }),
        ...(dependencies !== undefined && { dependencies }),
        ...(options.priority !== undefined && { priority: priorityOption(options.priority) }),
      };
      if (Object.keys(changes).length === 0)
        throw new UsageError('nothing to change: give --title, --description, --deps or --priority');
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
        const result = await client.trpc.runs.updateTask.mutate({ runId, taskId, changes });
        print(options, result, `edited ${taskId} in`);
      });
    });

  task
    .command('rm')
    .description('remove a task that is not in flight or done; one others wait for needs a flag')
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .argument('<task>', 'task id')
    .option('--cascade', 'remove every task that waits for it too')
    .option('--keep-dependents', 'keep the tasks that wait for it, without that dependency')
    .option('--json', 'print one JSON document')
    .action(
      async (
        ref: string,
        taskId: string,
        options: { cascade?: boolean; keepDependents?: boolean; json?: boolean },
      ) => {
        if (options.cascade && options.keepDependents)
          throw new UsageError('give --cascade or --keep-dependents, not both');
        const dependents: RemoveDependents = options.cascade
          ? 'cascade'
          : options.keepDependents
            ? 'keep'
            : 'refuse';
        await withClient(async (client) => {
          const runId = (await resolveRunRef(client, ref)).id;
          const result = await client.trpc.runs.removeTask.mutate({ runId, taskId, dependents });
          print(options, result, `removed ${result.removed.join(', ')} from`);
        });
      },
    );

  task
    .command('cancel')
    .description('stop a task (its attempt too) and hold it until you edit or retry it')
    .argument('<run>', 'run id (or a unique prefix, or last)')
    .argument('<task>', 'task id')
    .option('--json', 'print one JSON document')
    .action(async (ref: string, taskId: string, options: { json?: boolean }) => {
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref)).id;
        const result = await client.trpc.tasks.cancel.mutate({ runId, taskId });
        print(
          options,
          result,
          result.changed.length === 0 ? `${taskId} was cancelled already in` : `cancelled ${taskId} in`,
          `; it waits until you edit it, orc retry ${runId} ${taskId} or orc skip ${runId} ${taskId} (the run does not finish without it)`,
        );
      });
    });
}

function print(options: { json?: boolean }, result: PlanEditResult, what: string, after = ''): void {
  const { run } = result;
  emit(
    options,
    { ...result, run: summaryJson(run) },
    () => `${what} ${run.id} (${run.status})${simulatedLabel(run)}${after}`,
  );
}

function depsOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const ids = value
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  for (const id of ids) taskIdOption(id, '--deps');
  return ids;
}

function taskIdOption(id: string, option = '--id'): string {
  if (!TaskId.safeParse(id).success)
    throw new UsageError(`${option}: "${id}" is not a task id (letters, digits, ".", "_" and "-")`);
  return id;
}

function touchesOption(paths: string[]): string[] {
  const parsed = Touches.safeParse(paths);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path[0];
    throw new UsageError(`--touches${typeof at === 'number' ? ` "${paths[at]}"` : ''}: ${issue.message}`);
  }
  return parsed.data;
}

function priorityOption(value: string): Priority {
  const parsed = Priority.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`--priority must be one of ${Priority.options.join(', ')} (got "${value}")`);
  return parsed.data;
}

function nonEmpty(option: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`${option} must not be empty`);
  return value;
}
