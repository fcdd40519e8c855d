import { OrcError } from './errors.js';

interface GraphNode {
  readonly id: string;
  readonly dependencies: readonly string[];
}

/**
 * Checks that ids are unique, every dependency names a task in the graph and no dependency chain loops.
 * Throws an OrcError naming the first offending task; `what` says where the graph came from.
 */
export function assertValidTaskGraph(
  nodes: readonly GraphNode[],
  what: string,
  code: 'PLAN_INVALID' | 'TASK_FILE_INVALID',
): void {
  const byId = new Map<string, GraphNode>();
  for (const node of nodes) {
    if (byId.has(node.id))
      throw new OrcError(code, `${what}: task id "${node.id}" is used twice; ids must be unique`);
    byId.set(node.id, node);
  }
  for (const node of nodes) {
    for (const dep of node.dependencies) {
      if (dep === node.id) throw new OrcError(code, `${what}: task "${node.id}" depends on itself`);
      if (!byId.has(dep)) {
        throw new OrcError(code, `${what}: task "${node.id}" depends on "${dep}", which is not a task in it`);
      }
    }
  }
  const cycle = findCycle(nodes, byId);
  if (cycle)
    throw new OrcError(
      code,
      `${what}: dependency cycle ${cycle.join(' -> ')}; remove one of these dependencies`,
    );
}

/** One dependency cycle of the graph (its ids, the first repeated at the end), or undefined; every dependency must name a node. */
export function findDependencyCycle(nodes: readonly GraphNode[]): string[] | undefined {
  return findCycle(nodes, new Map(nodes.map((node) => [node.id, node])));
}

/** Iterative DFS (graphs can be deep); returns the ids of one cycle, first id repeated at the end. */
function findCycle(nodes: readonly GraphNode[], byId: ReadonlyMap<string, GraphNode>): string[] | undefined {
  const state = new Map<string, 'open' | 'closed'>();
  for (const root of nodes) {
    if (state.has(root.id)) continue;
    const path: string[] = [];
    const stack: { node: GraphNode; next: number }[] = [{ node: root, next: 0 }];
    state.set(root.id, 'open');
    path.push(root.id);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const dep = frame.node.dependencies[frame.next++];
      if (dep === undefined) {
        state.set(frame.node.id, 'closed');
        stack.pop();
        path.pop();
        continue;
      }
      const seen = state.get(dep);
      if (seen === 'open') return [...path.slice(path.indexOf(dep)), dep];
      if (seen === 'closed') continue;
      state.set(dep, 'open');
      path.push(dep);
      stack.push({ node: byId.get(dep)!, next: 0 });
    }
  }
  return undefined;
}

/**
 * Length of the longest chain from each task to the end of the graph, counting the task itself
 * (weights default to 1). The scheduler runs the task with the longest remaining chain first.
 */
export function criticalPathLengths(
  nodes: readonly GraphNode[],
  weight: (id: string) => number = () => 1,
): Map<string, number> {
  const dependents = new Map<string, string[]>();
  const remaining = new Map<string, number>();
  for (const node of nodes) {
    remaining.set(node.id, 0);
    dependents.set(node.id, []);
  }
  for (const node of nodes) {
    for (const dep of node.dependencies) {
      dependents.get(dep)?.push(node.id);
      remaining.set(dep, (remaining.get(dep) ?? 0) + 1);
    }
  }
  // Kahn's algorithm from the sinks backwards: a task's length is known once all its dependents' are.
  const length = new Map<string, number>();
  const queue = nodes.filter((n) => remaining.get(n.id) === 0).map((n) => n.id);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    let longest = 0;
    for (const d of dependents.get(id) ?? []) longest = Math.max(longest, length.get(d) ?? 0);
    length.set(id, longest + weight(id));
    for (const dep of byId.get(id)?.dependencies ?? []) {
      const left = (remaining.get(dep) ?? 1) - 1;
      remaining.set(dep, left);
      if (left === 0) queue.push(dep);
    }
  }
  return length;
}
