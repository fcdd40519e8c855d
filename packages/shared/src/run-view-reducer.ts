import type { OrcEvent } from './events.js';
import { RunFold } from './run-fold.js';
import type { RunSource, StoredRunSource } from './task-source.js';
import { FINISHED_RUN_STATUSES, type RunView, type TaskCounts } from './run.js';
import type { TaskStatus } from './task.js';

/**
 * Keeps a client's copy of a run current from its event stream: a client draws `runs.get` once, then
 * folds each event of `runs.events` into it, with the same fold the daemon rebuilds its runs with
 * (run-fold.ts), so the view stays what `runs.get` would answer. Pure: returns a new view and never
 * touches the one given. Events the view already reflects (id <= lastEventId) or of another run change
 * nothing.
 */
export function applyEvent(view: RunView, event: OrcEvent): RunView {
  return applyEvents(view, [event]);
}

/**
 * Folds a batch of events with one copy of the task list, so a client that applies the events of a frame
 * together stays cheap on runs with thousands of tasks.
 */
export function applyEvents(view: RunView, events: readonly OrcEvent[]): RunView {
  return foldView(view, events).view;
}

/**
 * As `applyEvents`, and whether the events left the view short of the run: a rollback from an older
 * journal that did not carry its records, after which a client fetches the run again.
 */
export function foldView(view: RunView, events: readonly OrcEvent[]): { view: RunView; incomplete: boolean } {
  let fold: RunFold<RunView> | undefined;
  for (const event of events) {
    if (event.runId !== view.id || event.id <= (fold?.run.lastEventId ?? view.lastEventId)) continue;
    fold ??= new RunFold({ ...view, tasks: [...view.tasks], usage: { ...view.usage } });
    fold.apply(event);
    if (event.type === 'run.created') {
      fold.run.maxWorkers = event.maxWorkers;
      const source = event.setup?.source;
      if (source) fold.run.source = runSourceOf(source);
    }
    viewOnly(fold.run, event);
  }
  if (!fold) return { view, incomplete: false };
  const next = fold.run;
  if (fold.tasksChanged) {
    const counts: TaskCounts = {};
    let busy = 0;
    for (const task of next.tasks) {
      counts[task.status] = (counts[task.status] ?? 0) + 1;
      if (isBusy(task.status)) busy++;
    }
    next.taskCounts = counts;
    next.taskTotal = next.tasks.length;
    next.busyWorkers = busy;
  }
  return { view: next, incomplete: fold.incomplete };
}

/** What only a client's view holds, not the run's document: where a live run is heading, its merge train. */
function viewOnly(view: RunView, event: OrcEvent): void {
  if (event.spent?.forecast !== undefined) view.forecast = event.spent.forecast;
  if (FINISHED_RUN_STATUSES.has(view.status)) delete view.forecast;
  if (event.type === 'train.verifying')
    view.train = {
      ...view.train,
      verifying: { taskIds: event.taskIds, commit: event.commit, since: event.at },
    };
  if (event.type === 'train.verified')
    view.train = {
      last: {
        taskIds: event.taskIds,
        commit: event.commit,
        passed: event.passed,
        at: event.at,
        ...(event.reason !== undefined && { reason: event.reason }),
      },
    };
}

/** Where a run's tasks came from, as a client sees it; runs from before `writeBack` existed wrote back. */
export function runSourceOf(source: StoredRunSource): RunSource {
  return { kind: source.kind, file: source.file, tag: source.tag, writeBack: source.writeBack !== false };
}

/** A worker holds its task while it works on it and while the manager reviews what it produced. */
function isBusy(status: TaskStatus): boolean {
  return status === 'running' || status === 'reviewing';
}
