interface PathNode {
  readonly id: string;
  readonly dependencies: readonly string[];
}

/**
 * The chain of dependent tasks whose durations add up to the most: no run can finish sooner than this
 * however many workers it has. Kahn's order, not recursion, so a 10,000-task chain does not overflow the
 * stack. Dependencies on unknown tasks count as done.
 */
export function criticalPath(
  nodes: readonly PathNode[],
  durationOf: (id: string) => number,
): { ms: number; path: string[] } {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const node of nodes) {
    const deps = node.dependencies.filter((dep) => byId.has(dep));
    waiting.set(node.id, deps.length);
    for (const dep of deps) {
      const list = dependents.get(dep);
      if (list) list.push(node.id);
      else dependents.set(dep, [node.id]);
    }
  }
  const finish = new Map<string, number>();
  const via = new Map<string, string>();
  const queue = nodes.filter((node) => waiting.get(node.id) === 0).map((node) => node.id);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    let start = 0;
    for (const dep of byId.get(id)!.dependencies) {
      const depFinish = finish.get(dep);
      if (depFinish !== undefined && depFinish > start) {
        start = depFinish;
        via.set(id, dep);
      }
    }
    finish.set(id, start + durationOf(id));
    for (const next of dependents.get(id) ?? []) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  let end: string | undefined;
  for (const [id, ms] of finish) if (end === undefined || ms > finish.get(end)!) end = id;
  if (end === undefined) return { ms: 0, path: [] };
  const path = [end];
  for (let step = via.get(end); step !== undefined; step = via.get(step)) path.unshift(step);
  return { ms: finish.get(end)!, path };
}
