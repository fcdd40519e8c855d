import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GoalPlan } from '@orc/shared';
import { CommandFailed, EXIT } from './cli-error.js';

/** Where Task Master 0.43 keeps its tasks, under a project directory. */
export const TASKMASTER_TASKS = join('.taskmaster', 'tasks', 'tasks.json');

/**
 * The plan as a tasks file `orc run` takes (`{ "tasks": [...] }`), with what made it above the tasks so a
 * plan from the simulated model says so in the file too.
 */
export function tasksFileText(plan: GoalPlan): string {
  const document = {
    goal: plan.goal,
    summary: plan.summary,
    plannedBy: `${plan.models.manager.provider}/${plan.models.manager.model}`,
    simulated: plan.models.manager.provider === 'simulated',
    tasks: plan.tasks,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Refuses to replace a file a person may have edited, unless told to (exit 4). */
export function refuseExisting(file: string, force: boolean): void {
  if (!force && existsSync(file))
    throw new CommandFailed(
      `${file} exists and orc plan keeps it; pass --force to replace it, or --out another file`,
      EXIT.conflict,
    );
}

/** Writes `text` to `file` whole or not at all (a temp file renamed over it). */
export async function writeWhole(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}

/**
 * The plan as Task Master tasks: ids 1..n in plan order (Task Master numbers its tasks), dependencies
 * renumbered, every task pending. The plan's own id is kept in `details` so a person can match them,
 * and the paths a task touches in `metadata.touches`.
 */
export function taskMasterTasks(plan: GoalPlan): Record<string, unknown>[] {
  const number = new Map(plan.tasks.map((task, i) => [task.id, i + 1]));
  return plan.tasks.map((task, i) => ({
    id: i + 1,
    title: task.title,
    description: task.description,
    details: [task.details, `orc plan id: ${task.id}`].filter(Boolean).join('\n\n'),
    testStrategy: '',
    status: 'pending',
    dependencies: task.dependencies.map((dep) => number.get(dep)!),
    priority: task.priority,
    // Task Master's own place for data of other tools: kept through its AI rewrites, read back by orc run.
    ...(task.touches !== undefined && task.touches.length > 0 && { metadata: { touches: task.touches } }),
    subtasks: [],
  }));
}

/**
 * The project's tasks.json as it is, checked before the manager is asked: a tag that has tasks already
 * is kept unless `force` (exit 4), and a file Task Master could not read is never overwritten.
 */
export function readTaskMasterTarget(file: string, tag: string, force: boolean): Record<string, unknown> {
  let data: Record<string, unknown> = {};
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new CommandFailed(
        `${file} is not valid JSON (${(error as Error).message}); fix it or move it away, then plan again`,
        EXIT.conflict,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || 'tasks' in parsed)
      throw new CommandFailed(
        `${file} is not in Task Master's tagged layout; run task-master migrate, then plan again`,
        EXIT.conflict,
      );
    data = parsed as Record<string, unknown>;
    const existing = (data[tag] as { tasks?: unknown[] } | undefined)?.tasks;
    if (!force && Array.isArray(existing) && existing.length > 0)
      throw new CommandFailed(
        `tag ${tag} of ${file} has ${existing.length} task${existing.length === 1 ? '' : 's'} and orc plan keeps them; ` +
          `pass --force to replace them, or --tag another tag`,
        EXIT.conflict,
      );
  }
  return data;
}

/** The tasks.json with the plan as tag `tag`; the other tags stay as they are. */
export function taskMasterText(
  data: Record<string, unknown>,
  tag: string,
  plan: GoalPlan,
  now: string,
): string {
  const simulated = plan.models.manager.provider === 'simulated' ? ' [SIMULATED plan]' : '';
  const next = {
    ...data,
    [tag]: {
      tasks: taskMasterTasks(plan),
      metadata: { created: now, updated: now, description: `${plan.summary}${simulated}` },
    },
  };
  return `${JSON.stringify(next, null, 2)}\n`;
}
