import type { TaskRecord } from '@orc/shared';

/**
 * The tasks whose dependents may go on: every done task, and a skipped one once its own dependencies
 * may. Skipping gives up a task's work, not the order around it: what depends on a skipped task still
 * waits for what the skipped task was waiting for.
 */
export function unblockingTasks(tasks: ReadonlyMap<string, TaskRecord>): Set<string> {
  const known = new Map<string, boolean>();
  const unblocks = (id: string): boolean => {
    const cached = known.get(id);
    if (cached !== undefined) return cached;
    const task = tasks.get(id);
    // Provisionally false while its dependencies are looked at: a cycle (never in a valid plan) unblocks nothing.
    known.set(id, false);
    const answer =
      task?.status === 'done' || (task?.status === 'skipped' && task.dependencies.every(unblocks));
    known.set(id, answer);
    return answer;
  };
  const out = new Set<string>();
  for (const id of tasks.keys()) if (unblocks(id)) out.add(id);
  return out;
}
