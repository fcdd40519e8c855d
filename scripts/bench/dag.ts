import { seededRandom } from '@orc/test-support';
import type { TaskSpecInput } from '@orc/shared';

/**
 * The benchmark's task graphs and the schedules they are compared with. Everything here is pure: the
 * graph comes from a seed, and the bounds and the level-by-level schedule are computed from durations
 * measured in a real run.
 */

export interface DagShape {
  tasks: number;
  seed: number;
  /** A task's dependencies are drawn from this many tasks before it (smaller: deeper graph). */
  window: number;
  /** Most dependencies one task has. */
  maxDependencies: number;
  /** Share of tasks with no dependency at all. */
  rootShare: number;
}

export const DEFAULT_DAG: Omit<DagShape, 'tasks'> = {
  seed: 6,
  window: 64,
  maxDependencies: 3,
  rootShare: 0.05,
};

export function taskId(i: number): string {
  return `t${String(i + 1).padStart(5, '0')}`;
}

/**
 * A random DAG in topological order: each task depends on up to `maxDependencies` distinct tasks among
 * the `window` before it, so the graph is deep enough for levels to matter and wide enough for 16 workers.
 */
export function randomDag(shape: DagShape): TaskSpecInput[] {
  const random = seededRandom(shape.seed);
  const specs: TaskSpecInput[] = [];
  for (let i = 0; i < shape.tasks; i++) {
    const dependencies = new Set<string>();
    if (i > 0 && random() >= shape.rootShare) {
      const count = 1 + Math.floor(random() * shape.maxDependencies);
      const from = Math.max(0, i - shape.window);
      for (let k = 0; k < count; k++) dependencies.add(taskId(from + Math.floor(random() * (i - from))));
    }
    specs.push({
      id: taskId(i),
      title: `Benchmark task ${i + 1}`,
      description: `Synthetic task ${i + 1} of ${shape.tasks}.`,
      dependencies: [...dependencies].sort(),
    });
  }
  return specs;
}

/** Independent tasks: no dependency, so only the engine limits throughput. */
export function flatTasks(count: number, prefix = 'Independent task'): TaskSpecInput[] {
  return Array.from({ length: count }, (_, i) => ({ id: taskId(i), title: `${prefix} ${i + 1}` }));
}

interface Node {
  id: string;
  dependencies: readonly string[];
}

/** Longest duration-weighted chain through the graph (the critical path), in the durations' unit. */
export function criticalPath(nodes: readonly Node[], duration: ReadonlyMap<string, number>): number {
  const finish = new Map<string, number>();
  let longest = 0;
  for (const node of topological(nodes)) {
    let start = 0;
    for (const dep of node.dependencies) start = Math.max(start, finish.get(dep) ?? 0);
    const end = start + (duration.get(node.id) ?? 0);
    finish.set(node.id, end);
    longest = Math.max(longest, end);
  }
  return longest;
}

/** Depth of each task: 0 for a task without dependencies, else one more than its deepest dependency. */
export function levels(nodes: readonly Node[]): string[][] {
  const depth = new Map<string, number>();
  const byLevel: string[][] = [];
  for (const node of topological(nodes)) {
    let d = 0;
    for (const dep of node.dependencies) d = Math.max(d, (depth.get(dep) ?? 0) + 1);
    depth.set(node.id, d);
    (byLevel[d] ??= []).push(node.id);
  }
  return byLevel;
}

/**
 * What a naive orchestrator does: one batch per level, each batch started when the previous one has
 * entirely finished, its tasks handed in id order to the next free worker. Returns the makespan.
 */
export function levelByLevelMakespan(
  nodes: readonly Node[],
  duration: ReadonlyMap<string, number>,
  workers: number,
): number {
  let total = 0;
  for (const level of levels(nodes)) {
    total += listSchedule(
      [...level].sort().map((id) => duration.get(id) ?? 0),
      workers,
    );
  }
  return total;
}

/** Greedy list scheduling of independent jobs in the given order on `workers` machines. */
function listSchedule(jobs: readonly number[], workers: number): number {
  const free = new Array<number>(Math.min(workers, jobs.length)).fill(0);
  let end = 0;
  for (const job of jobs) {
    // The earliest-free worker takes the next job (few workers: a linear scan is fine).
    let best = 0;
    for (let w = 1; w < free.length; w++) if (free[w]! < free[best]!) best = w;
    free[best] = free[best]! + job;
    end = Math.max(end, free[best]!);
  }
  return end;
}

/** Kahn's order; the benchmark's graphs are already in order, but a measured run's task list might not be. */
function topological(nodes: readonly Node[]): Node[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const node of nodes) {
    waiting.set(node.id, node.dependencies.length);
    for (const dep of node.dependencies)
      (dependents.get(dep) ?? dependents.set(dep, []).get(dep)!).push(node.id);
  }
  const order: Node[] = nodes.filter((n) => n.dependencies.length === 0);
  for (let i = 0; i < order.length; i++) {
    for (const id of dependents.get(order[i]!.id) ?? []) {
      const left = waiting.get(id)! - 1;
      waiting.set(id, left);
      if (left === 0) order.push(byId.get(id)!);
    }
  }
  return order;
}
