import { createActor, type ActorScope } from 'xstate';
import type { TaskContext, TaskEvent, TaskSnapshot, taskMachine } from './task.machine.js';

type TaskLogic = typeof taskMachine;

/**
 * A task's actor: its machine's snapshot, changed only by the events it is sent, one at a time, each a
 * macrostep of the task machine (XState's own `transition` of the machine's logic). Its snapshot is its
 * persisted state: the task's record is its context with the state as its status.
 *
 * Why not XState's `createActor`: an XState actor brings a mailbox, an actor system, observers and an
 * inspection stream, none of which a task uses (it sends nothing, spawns nothing, and its run reads what
 * `send` returns). Measured alone on the shared 2-core machine (load ~12): creating, starting and
 * stopping one cost ~38 µs of CPU, more than half of what the task's five events through the machine
 * cost. XState's pure `transition()` is dearer still: it builds an actor for every call (~60-90 µs). A
 * task actor runs the same machine on a scope its run's task actors share.
 */
export class TaskActor {
  constructor(
    private readonly logic: TaskLogic,
    private readonly scope: TaskScope,
    private snapshot: TaskSnapshot,
  ) {}

  getSnapshot(): TaskSnapshot {
    return this.snapshot;
  }

  /**
   * Takes the event through the machine and returns the snapshot it leaves: the same object when the
   * machine does not take the event in the state the task is in. A guard or an action that throws (one
   * the run did not provide) throws here, to the sender, and the snapshot stays as it was.
   */
  send(event: TaskEvent): TaskSnapshot {
    this.snapshot = this.logic.transition(this.snapshot, event, this.scope);
    return this.snapshot;
  }
}

const NOBODY: TaskContext = {
  id: '',
  title: '',
  description: '',
  dependencies: [],
  priority: 'medium',
  attempts: [],
  reworks: 0,
};

/** What a task machine's transition is given: who it is, and where its actions would go. */
export type TaskScope = ActorScope<TaskSnapshot, TaskEvent>;

/**
 * The scope a run's task actors share, made once per run (as XState makes one for `transition()` on
 * every call). The task machine's actions are all assigns, resolved within the transition: nothing is
 * left for the executor, and nothing is spawned, emitted or deferred.
 */
export function taskScope(logic: TaskLogic): TaskScope {
  // The `self` actions are given (none of the task machine's reads it); never started, never sent to.
  const self = createActor(logic, { input: NOBODY });
  return {
    self,
    id: '',
    sessionId: '',
    system: self.system,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: (action) => {
      throw new Error(`the task machine ran a non-assign action (${action.type}); a task actor runs none`);
    },
  };
}
