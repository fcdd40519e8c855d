import {
  findDependencyCycle,
  LIMITS,
  OrcError,
  TaskSpec,
  type NewTask,
  type RemoveDependents,
  type TaskChanges,
  type TaskRecord,
} from '@orc/shared';

/**
 * The checks of a person's edit of a running plan, made before anything changes: pure, over the run's
 * task records. Each refusal is an OrcError that names the task and what to do instead: an unknown task
 * or dependency is TASK_NOT_FOUND (exit 3), anything that conflicts with the plan or with what the run is
 * doing is INVALID_STATE (exit 4).
 */

/** The run's tasks as the checks read them (a TaskSet, or a Map in tests). */
export interface TaskLookup {
  get(id: string): TaskRecord | undefined;
  values(): Iterable<TaskRecord>;
}

/** Statuses in which a worker holds the task (or its work is landing): changed only once cancelled. */
const IN_FLIGHT = new Set(['running', 'reviewing', 'merging']);

/** How the run names the ids of tasks added without one: Task Master's numbers, or `t<n>`. */
export type IdScheme = 'numbers' | 'names';

/**
 * The tasks to add, with their ids (new ones chosen by `scheme`) and their defaults filled in: every id
 * new to the run, every dependency a task of the run or of the batch, no cycle.
 */
export function checkNewTasks(
  runId: string,
  tasks: TaskLookup,
  size: number,
  added: readonly NewTask[],
  scheme: IdScheme,
  /** Numbers at or below it are taken at the source (scheme `numbers`). */
  floor = 0,
): TaskSpec[] {
  if (size + added.length > LIMITS.tasks)
    throw new OrcError(
      'LIMIT_EXCEEDED',
      `run ${runId} would have ${size + added.length} tasks; a run holds at most ${LIMITS.tasks}`,
    );
  const taken = new Set<string>();
  const isTaken = (id: string) => taken.has(id) || tasks.get(id) !== undefined;
  for (const task of added) {
    if (task.id === undefined) continue;
    if (isTaken(task.id))
      throw new OrcError(
        'INVALID_STATE',
        `run ${runId} has a task ${task.id} already; give the new one another id, or leave the id out`,
      );
    if (scheme === 'numbers' && !/^[1-9][0-9]*(\.[1-9][0-9]*)?$/.test(task.id))
      throw new OrcError(
        'INVALID_STATE',
        `run ${runId} runs a Task Master project, whose task ids are numbers (got "${task.id}"); give a number or leave the id out`,
      );
    taken.add(task.id);
  }
  const next = newIds(tasks, size, scheme, isTaken, floor);
  const specs = added.map((task) => {
    const id = task.id ?? next();
    taken.add(id);
    return TaskSpec.parse({ ...task, id });
  });
  const batch = new Map(specs.map((spec) => [spec.id, spec]));
  for (const [i, spec] of specs.entries()) {
    // An id the run chose names nothing the person knows yet: such a task is "the new task" (by title).
    const name = added[i]!.id === undefined ? `the new task "${spec.title}"` : `task ${spec.id}`;
    for (const dep of spec.dependencies) {
      if (dep === spec.id) throw new OrcError('INVALID_STATE', `task ${spec.id} cannot depend on itself`);
      if (!batch.has(dep) && tasks.get(dep) === undefined)
        throw new OrcError(
          'TASK_NOT_FOUND',
          `${name} depends on "${dep}", which run ${runId} does not have; orc show ${runId} lists its tasks`,
        );
    }
  }
  // The run's own tasks cannot wait for new ones, so a cycle can only run through the batch.
  const cycle = findDependencyCycle(
    specs.map((spec) => ({ id: spec.id, dependencies: spec.dependencies.filter((dep) => batch.has(dep)) })),
  );
  if (cycle) throw cycleError(cycle);
  return specs;
}

/** A generator of ids the run does not use: the next number above the highest, or `t<n>` from the size up. */
function newIds(
  tasks: TaskLookup,
  size: number,
  scheme: IdScheme,
  isTaken: (id: string) => boolean,
  floor: number,
): () => string {
  let n = size;
  if (scheme === 'numbers') {
    n = floor;
    for (const task of tasks.values()) n = Math.max(n, Number.parseInt(task.id, 10) || 0);
  }
  return () => {
    let id: string;
    do id = scheme === 'numbers' ? String(++n) : `t${++n}`;
    while (isTaken(id));
    return id;
  };
}

/**
 * The task a person may change: known, not in flight (cancel it first), not done (its work stands);
 * new dependencies are tasks of the run and make no cycle.
 */
export function checkChanges(
  runId: string,
  tasks: TaskLookup,
  taskId: string,
  changes: TaskChanges,
): TaskRecord {
  const task = known(runId, tasks, taskId);
  if (IN_FLIGHT.has(task.status))
    throw new OrcError(
      'INVALID_STATE',
      `task ${taskId} is ${task.status}; cancel it first (orc task cancel ${runId} ${taskId}), then edit it`,
    );
  if (task.status === 'done')
    throw new OrcError(
      'INVALID_STATE',
      `task ${taskId} is done and its work stands; add a new task for more (orc task add ${runId})`,
    );
  const dependencies = changes.dependencies;
  if (dependencies === undefined) return task;
  for (const dep of dependencies) {
    if (dep === taskId) throw new OrcError('INVALID_STATE', `task ${taskId} cannot depend on itself`);
    if (tasks.get(dep) === undefined)
      throw new OrcError(
        'TASK_NOT_FOUND',
        `task ${taskId} cannot depend on "${dep}": run ${runId} has no such task; orc show ${runId} lists them`,
      );
  }
  const path = pathTo(tasks, dependencies, taskId);
  if (path) throw cycleError([taskId, ...path]);
  return task;
}

/** A chain of dependencies from one of `from` to `target` (from first, target last), if there is one. */
function pathTo(tasks: TaskLookup, from: readonly string[], target: string): string[] | undefined {
  const came = new Map<string, string | undefined>();
  const stack = [...from];
  for (const id of from) came.set(id, undefined);
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    if (id === target) {
      const path: string[] = [];
      for (let at: string | undefined = id; at !== undefined; at = came.get(at)) path.unshift(at);
      return path;
    }
    for (const dep of tasks.get(id)?.dependencies ?? []) {
      if (came.has(dep)) continue;
      came.set(dep, id);
      stack.push(dep);
    }
  }
  return undefined;
}

/**
 * The tasks a removal takes out of the plan: the task, and with `cascade` everything that waits for it;
 * none may be in flight or done. With `refuse`, a task others wait for is refused, naming them.
 */
export function tasksToRemove(
  runId: string,
  tasks: TaskLookup,
  taskId: string,
  dependents: RemoveDependents,
): string[] {
  const task = known(runId, tasks, taskId);
  // Before its dependents: no flag for them makes a done task removable (one in flight is, once cancelled).
  if (task.status === 'done')
    throw new OrcError('INVALID_STATE', `task ${taskId} is done and its work stands; it is not removed`);
  const waiting = dependentsOf(tasks);
  const direct = waiting.get(taskId) ?? [];
  if (direct.length > 0 && dependents === 'refuse')
    throw new OrcError(
      'INVALID_STATE',
      `task ${taskId} has dependents ${direct.join(', ')}; add --cascade to remove them too, or --keep-dependents to keep them without it`,
    );
  const removed = [taskId];
  if (dependents === 'cascade') {
    const seen = new Set(removed);
    for (let i = 0; i < removed.length; i++) {
      for (const id of waiting.get(removed[i]!) ?? []) {
        if (seen.has(id)) continue;
        seen.add(id);
        removed.push(id);
      }
    }
  }
  const stays = removed.filter((id) => {
    const status = tasks.get(id)!.status;
    return IN_FLIGHT.has(status) || status === 'done';
  });
  if (stays.length > 0) {
    const describe = stays.map((id) => `${id} (${tasks.get(id)!.status})`).join(', ');
    throw new OrcError(
      'INVALID_STATE',
      `cannot remove ${describe}: a task in flight is cancelled first (orc task cancel), and a done task's work stands`,
    );
  }
  return removed;
}

/** The task a person cancels: known, and not finished (undefined when it is cancelled already). */
export function checkCancel(runId: string, tasks: TaskLookup, taskId: string): TaskRecord | undefined {
  const task = known(runId, tasks, taskId);
  switch (task.status) {
    case 'cancelled':
      return undefined;
    case 'done':
    case 'failed':
    case 'skipped':
      throw new OrcError('INVALID_STATE', `task ${taskId} is ${task.status}; there is nothing to cancel`);
    case 'merging':
      throw new OrcError(
        'INVALID_STATE',
        `task ${taskId} was accepted and its work is being merged; it is done in a moment, and a rollback undoes it`,
      );
    default:
      return task;
  }
}

/** Who waits for whom, among the run's tasks. */
export function dependentsOf(tasks: TaskLookup): Map<string, string[]> {
  const waiting = new Map<string, string[]>();
  for (const task of tasks.values()) {
    for (const dep of task.dependencies) {
      const list = waiting.get(dep);
      if (list) list.push(task.id);
      else waiting.set(dep, [task.id]);
    }
  }
  return waiting;
}

function known(runId: string, tasks: TaskLookup, taskId: string): TaskRecord {
  const task = tasks.get(taskId);
  if (!task)
    throw new OrcError(
      'TASK_NOT_FOUND',
      `run ${runId} has no task "${taskId}"; orc show ${runId} lists them`,
    );
  return task;
}

function cycleError(cycle: readonly string[]): OrcError {
  return new OrcError(
    'INVALID_STATE',
    `that would make a dependency cycle ${cycle.join(' -> ')}; leave one of these dependencies out`,
  );
}
