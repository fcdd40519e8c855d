import type { TaskStatus } from '@orc/shared';
import { setup, transition } from 'xstate';

/** What can happen to a task; the run sends these as its workers and the user act. */
export type TaskEvent =
  | { type: 'task.unblocked' } // its last dependency is done
  | { type: 'task.assign' }
  | { type: 'task.work_done' }
  | { type: 'task.accept' }
  | { type: 'task.rework' }
  | { type: 'task.fail' }
  | { type: 'task.interrupt' } // its attempt was cut short (crash, rollback): run it again
  | { type: 'task.hold' } // imported as deferred/blocked: waits for a person
  | { type: 'task.cancel' }
  | { type: 'task.skip' }
  | { type: 'task.retry' }
  | { type: 'task.reset' };

/**
 * The life of one task: pending → ready → running → reviewing → done, or failed, blocked (waits for a
 * person), skipped, cancelled. Task records hold only the status; the machine decides which moves are
 * legal (see `nextTaskStatus`), so 10,000 tasks need no 10,000 actors.
 */
export const taskMachine = setup({
  types: { events: {} as TaskEvent },
}).createMachine({
  id: 'task',
  initial: 'pending',
  on: { 'task.reset': '.pending' },
  states: {
    pending: {
      on: {
        'task.unblocked': 'ready',
        'task.hold': 'blocked',
        'task.cancel': 'cancelled',
        'task.skip': 'skipped',
      },
    },
    ready: {
      on: {
        'task.assign': 'running',
        'task.hold': 'blocked',
        'task.cancel': 'cancelled',
        'task.skip': 'skipped',
      },
    },
    running: {
      on: {
        'task.work_done': 'reviewing',
        'task.fail': 'failed',
        'task.interrupt': 'ready',
        'task.cancel': 'cancelled',
      },
    },
    reviewing: {
      on: {
        'task.accept': 'done',
        'task.rework': 'ready',
        'task.fail': 'failed',
        'task.interrupt': 'ready',
        'task.cancel': 'cancelled',
        // Accepted work that cannot be merged after its reworks waits for a person.
        'task.hold': 'blocked',
      },
    },
    done: {},
    failed: { on: { 'task.retry': 'pending', 'task.skip': 'skipped' } },
    blocked: { on: { 'task.retry': 'pending', 'task.skip': 'skipped', 'task.cancel': 'cancelled' } },
    skipped: { on: { 'task.retry': 'pending' } },
    cancelled: { on: { 'task.retry': 'pending' } },
  },
});

const EVENT_TYPES: readonly TaskEvent['type'][] = [
  'task.unblocked',
  'task.assign',
  'task.work_done',
  'task.accept',
  'task.rework',
  'task.fail',
  'task.interrupt',
  'task.hold',
  'task.cancel',
  'task.skip',
  'task.retry',
  'task.reset',
];

/**
 * Every (status, event) → status move of the machine, worked out once through XState's pure `transition`,
 * so the hot path is a map lookup.
 */
const TRANSITIONS: ReadonlyMap<string, TaskStatus> = (() => {
  const table = new Map<string, TaskStatus>();
  for (const status of Object.keys(taskMachine.config.states ?? {}) as TaskStatus[]) {
    const from = taskMachine.resolveState({ value: status, context: undefined });
    for (const type of EVENT_TYPES) {
      const [next] = transition(taskMachine, from, { type });
      const to = next.value;
      if (to !== status || type === 'task.reset') table.set(`${status}|${type}`, to);
    }
  }
  return table;
})();

/** The status a task moves to on an event, or undefined when the machine does not allow the move. */
export function nextTaskStatus(status: TaskStatus, event: TaskEvent['type']): TaskStatus | undefined {
  return TRANSITIONS.get(`${status}|${event}`);
}
