import type { OrcEvent } from './events.js';
import { RunFold } from './run-fold.js';
import type { RunSource, StoredRunSource } from './task-source.js';
import { FINISHED_RUN_STATUSES, type RunView, type TaskCounts } from './run.js';
import type { TaskRecord, TaskStatus } from './task.js';

/**
 * Keeps a client's copy of a run current from its event stream: a client draws `runs.get` once, then
 * folds each event of `runs.events` into it, with the same fold the daemon rebuilds its runs with
 * (run-fold.ts), so the view stays what `runs.get` would answer. Pure: returns a new view and never
 * touches the one given. Events the view already reflects (id <= lastEventId) or of another run change
 * nothing.
 *
 * A view of a large run holds a page of its tasks (`tasks.length < taskTotal`): events about tasks it
 * holds change them, and the counts follow every task's moves (`task.status` says what a task left). What
 * such a view cannot fold exactly, `wantsFreshView` names.
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
 * As `applyEvents`, and whether the events left the view short of the run (`wantsFreshView`), after
 * which a client fetches the run again.
 */
export function foldView(view: RunView, events: readonly OrcEvent[]): { view: RunView; incomplete: boolean } {
  const page = holdsPage(view);
  let fold: RunFold<RunView> | undefined;
  let incomplete = false;
  for (const event of events) {
    if (event.runId !== view.id || event.id <= (fold?.run.lastEventId ?? view.lastEventId)) continue;
    fold ??= new RunFold({
      ...view,
      tasks: [...view.tasks],
      usage: { ...view.usage },
      ...(page && { taskCounts: { ...view.taskCounts } }),
    });
    incomplete ||= wantsFreshView(view, event);
    if (page) foldPageEvent(fold, event);
    else fold.apply(event);
    if (event.type === 'run.created') {
      fold.run.maxWorkers = event.maxWorkers;
      const source = event.setup?.source;
      if (source) fold.run.source = runSourceOf(source);
    }
    viewOnly(fold.run, event);
  }
  if (!fold) return { view, incomplete: false };
  const next = fold.run;
  if (page) {
    next.busyWorkers = (next.taskCounts['running'] ?? 0) + (next.taskCounts['reviewing'] ?? 0);
  } else if (fold.tasksChanged) {
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
  return { view: next, incomplete: incomplete || fold.incomplete };
}

/**
 * Events after which a client should fetch the view again: any, after a view that held back tasks done
 * while the disk took no writes (`unconfirmed`: their completion comes before the view's `lastEventId`);
 * a rollback that does not carry the records it restored (an older journal), and, for a view holding a
 * page of the tasks, a new plan, a restart and any rollback, which move tasks it does not hold in ways
 * the events do not spell out.
 */
export function wantsFreshView(view: RunView, event: OrcEvent): boolean {
  if (view.unconfirmed !== undefined) return true;
  if (event.type === 'run.rolled_back' && event.tasks === undefined) return true;
  return (
    holdsPage(view) &&
    (event.type === 'run.planned' || event.type === 'run.restored' || event.type === 'run.rolled_back')
  );
}

/** The view holds some of the run's tasks, not all of them. */
function holdsPage(view: RunView): boolean {
  return view.tasks.length < view.taskTotal;
}

/**
 * One event into a view holding a page: the counts follow a task's move, whether the view holds it or
 * not, and the page stays the tasks it holds (a plan's or a rollback's whole task list is fetched, see
 * `wantsFreshView`, not folded into a page).
 */
function foldPageEvent(fold: RunFold<RunView>, event: OrcEvent): void {
  if (event.type === 'task.status') {
    countMove(fold.run.taskCounts, event.from ?? fold.task(event.taskId)?.status, event.status);
  }
  if (event.type !== 'run.planned' && !(event.type === 'run.rolled_back' && event.allTasks === true)) {
    fold.apply(event);
    return;
  }
  const held: TaskRecord[] = fold.run.tasks;
  fold.apply(event);
  // The tasks it holds as the rollback left them, until the page is fetched again.
  const after = new Map(fold.run.tasks.map((task) => [task.id, task]));
  fold.replaceAll(event.type === 'run.planned' ? held : held.map((task) => after.get(task.id) ?? task));
}

/** A task moved: the counts follow (a move from a status not known is not counted). */
function countMove(counts: TaskCounts, from: TaskStatus | undefined, to: TaskStatus): void {
  if (from === undefined || from === to) return;
  const left = (counts[from] ?? 0) - 1;
  if (left > 0) counts[from] = left;
  else delete counts[from];
  counts[to] = (counts[to] ?? 0) + 1;
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
