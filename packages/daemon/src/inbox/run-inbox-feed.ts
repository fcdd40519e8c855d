import {
  FINISHED_RUN_STATUSES,
  RUN_ITEM_TYPES,
  type InboxItemType,
  type OrcEvent,
  type TaskStatus,
} from '@orc/shared';
import type { Clock } from '../clock.js';
import type { Run } from '../run/run.js';
import type { Inbox } from './inbox.js';
import { runNeeds, taskNeeds } from './run-needs.js';

const TASK_ITEM_TYPES: ReadonlySet<InboxItemType> = new Set(['task_failed', 'held']);

/**
 * Keeps the inbox in step with one run: its whole-run item follows the run actor's state as it changes
 * (the state, not the journal, so a storage pause that cannot be journalled is still seen), its task items
 * follow each task's moves as the journal tells them (only the task that moved and what it holds up are
 * looked at, so a 100,000-task run pays nothing per move), and everything is looked at again after a
 * restore or a rollback. Returns what stops following.
 */
export function feedInbox(inbox: Inbox, run: Run, clock: Clock): () => void {
  const inRun = (item: { runId: string }) => item.runId === run.id;
  /** Whether the run had ended when last looked at: a task's item offers to cancel only a live run. */
  let ended = FINISHED_RUN_STATUSES.has(run.status);
  const syncRun = () => {
    // A run closed for a daemon stop or unloaded still waits for what it waited for when it comes back.
    const state = run.actor.getSnapshot();
    if (state.matches('closing') || state.matches('closed')) return;
    inbox.settle(
      (item) => inRun(item) && RUN_ITEM_TYPES.has(item.type),
      runNeeds(run, clock.now()),
      `run ${run.id} is ${run.status} now`,
    );
    // A cancelled run's items all close with it (run.cancelled), saying so.
    if (run.status === 'cancelled' || FINISHED_RUN_STATUSES.has(run.status) === ended) return;
    ended = !ended;
    for (const taskId of [...watched]) syncTask(taskId);
  };
  /**
   * The tasks that may have items (or answers that stand): the failed and blocked ones when last looked
   * at. Only their moves, and moves into failed or blocked, are looked at: the inbox for each of the
   * 40,000 moves of a 10,000-task run cost ~0.1 s of the daemon's CPU (CPU profile of the bench).
   */
  const watched = new Set<string>();
  const watch = (task: { id: string; status: TaskStatus }) => {
    if (task.status === 'failed' || task.status === 'blocked') watched.add(task.id);
    else watched.delete(task.id);
  };
  const syncTask = (taskId: string) => {
    const task = run.tasks.get(taskId);
    inbox.settle(
      (item) => inRun(item) && item.taskId === taskId && TASK_ITEM_TYPES.has(item.type),
      task ? taskNeeds(run, task) : [],
      `task ${taskId} is ${task?.status ?? 'gone'} now`,
    );
    if (task) watch(task);
    else watched.delete(taskId);
  };
  const syncTasks = () => {
    watched.clear();
    for (const row of run.tasks.rows()) watch(row);
    inbox.settle(
      (item) => inRun(item) && TASK_ITEM_TYPES.has(item.type),
      // Statuses read as kept: only failed and blocked tasks' records are parsed from their text.
      [...run.tasks.rows()].flatMap((row) =>
        row.status === 'failed' || row.status === 'blocked' ? taskNeeds(run, run.tasks.get(row.id)!) : [],
      ),
      `run ${run.id} changed its tasks`,
    );
  };
  const onEvent = (event: OrcEvent) => {
    switch (event.type) {
      case 'task.status': {
        const { taskId, status } = event;
        if (watched.has(taskId) || status === 'failed' || status === 'blocked') syncTask(taskId);
        if (watched.size === 0) return;
        // A held task's item counts who waits for it: a task that moved may have been one of them.
        // The status first: a settled dependency is kept as text (TaskSet), parsed only when needed.
        for (const id of run.tasks.get(taskId)?.dependencies ?? []) {
          if (!watched.has(id)) continue;
          if (run.tasks.statusOf(id) === 'blocked' && run.tasks.get(id)?.held !== undefined) syncTask(id);
        }
        return;
      }
      case 'run.rolled_back':
      case 'run.planned':
        syncTasks();
        return;
      case 'run.task_budget_set':
        // A cap raised for one task is every task's: the others that stopped at the old one say so, and
        // offer a plain retry where the new cap is enough.
        for (const taskId of [...watched]) syncTask(taskId);
        return;
      case 'run.cancelled':
        inbox.dropRun(run.id, `run ${run.id} was cancelled`);
        return;
      default:
        return;
    }
  };
  syncRun();
  syncTasks();
  const subscription = run.actor.subscribe(syncRun);
  const unfollow = run.onEvent(onEvent);
  return () => {
    subscription.unsubscribe();
    unfollow();
  };
}
