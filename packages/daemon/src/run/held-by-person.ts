import type { TaskSet } from './task-set.js';

/** The tasks a person cancelled, in the run's order: what holds a run in `paused.held`. */
export function cancelledTasks(tasks: TaskSet): string[] {
  return [...tasks.rows()].filter((row) => row.status === 'cancelled').map((row) => row.id);
}

/**
 * What a run held by the tasks a person cancelled says, and how to let it go on: `waited` when tasks still
 * waiting wait for one of them; else the run waits for them before its final review.
 */
export function heldMessage(held: readonly string[], waited: boolean): string {
  const one = held.length === 1;
  const shown = held.slice(0, 5).join(', ') + (held.length > 5 ? ', …' : '');
  const them = one ? 'it' : 'them';
  const what = waited
    ? `the tasks left wait for ${shown}, cancelled by a person`
    : `${one ? 'task' : 'tasks'} ${shown} ${one ? 'was' : 'were'} cancelled by a person and the run waits for ${them} before its final review`;
  return `${what}: edit, retry or skip ${them} (orc task edit, orc retry, orc skip), or remove ${them} (orc task rm)`;
}
