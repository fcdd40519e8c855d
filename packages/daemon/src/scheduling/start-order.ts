import { criticalPathLengths, type TaskSpec } from '@orc/shared';
import { naturalRanks } from './natural-order.js';
import { ReadyQueue } from './ready-queue.js';

/**
 * The order in which a run starts its tasks when each finishes in turn: the scheduler's own rule (the
 * ready task with the longest remaining critical path, then priority, then natural id order), played out
 * on the graph. With more workers the same tasks start in the same order, several at a time.
 */
export function startOrder(specs: readonly TaskSpec[]): TaskSpec[] {
  const byId = new Map(specs.map((spec) => [spec.id, spec]));
  const critical = criticalPathLengths(specs);
  const ranks = naturalRanks(specs.map((spec) => spec.id));
  const order = new Map(specs.map((spec, i) => [spec.id, ranks[i]!]));
  const dependents = new Map<string, string[]>();
  const waiting = new Map<string, number>();
  const queue = new ReadyQueue();
  const push = (spec: TaskSpec) =>
    queue.push({
      id: spec.id,
      toReview: false,
      criticalPath: critical.get(spec.id) ?? 1,
      priority: spec.priority,
      order: order.get(spec.id) ?? 0,
    });
  for (const spec of specs) {
    const deps = spec.dependencies.filter((dep) => byId.has(dep));
    waiting.set(spec.id, deps.length);
    for (const dep of deps) dependents.set(dep, [...(dependents.get(dep) ?? []), spec.id]);
    if (deps.length === 0) push(spec);
  }
  const started: TaskSpec[] = [];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    started.push(byId.get(next.id)!);
    for (const id of dependents.get(next.id) ?? []) {
      const left = waiting.get(id)! - 1;
      waiting.set(id, left);
      if (left === 0) push(byId.get(id)!);
    }
  }
  return started;
}
