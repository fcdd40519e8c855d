import { applyEvents, ZERO_USAGE, type OrcEvent, type RunView, type TaskRecord } from '@orc/shared';

/** What a client has of a run before its first event: its id, and nothing else it knows. */
export function blankRunView(runId: string): RunView {
  return {
    id: runId,
    goal: '',
    status: 'analyzing',
    models: {
      manager: { provider: 'simulated', model: '' },
      worker: { provider: 'simulated', model: '' },
      simulated: true,
    },
    maxWorkers: 1,
    createdAt: '',
    updatedAt: '',
    taskCounts: {},
    taskTotal: 0,
    usage: ZERO_USAGE,
    costUsd: 0,
    lastEventId: 0,
    tasks: [],
    busyWorkers: 0,
  };
}

/** A run's events folded from the first one by the reducer every client uses. */
export function foldJournal(runId: string, events: readonly OrcEvent[]): RunView {
  return applyEvents(blankRunView(runId), events);
}

/** What `runs.get` without `full` leaves out of each task: results and attempt outputs. */
export function withoutOutputs(view: RunView): RunView {
  return {
    ...view,
    tasks: view.tasks.map((task): TaskRecord => ({
      ...task,
      result: undefined,
      attempts: task.attempts.map((attempt) => ({ ...attempt, output: undefined })),
    })),
  };
}

/** A value as it goes over the wire (undefined fields dropped). */
export function onTheWire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
