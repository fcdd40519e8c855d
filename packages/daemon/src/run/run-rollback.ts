import { OrcError, type NewEvent, type RollbackStrategy, type TaskRecord } from '@orc/shared';
import type { RollbackPlan, RollbackRequest } from '../actors/run.machine.js';
import type { RunDocument } from '../store/run-document.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import { applyRollback, downstreamOf } from './apply-rollback.js';
import type { MergeQueue } from './merge-queue.js';
import type { RunCheckpoints } from './run-checkpoints.js';
import type { TaskSet } from './task-set.js';

export interface RollbackDeps {
  runId: string;
  doc: RunDocument;
  checkpoints: RunCheckpoints;
  merges: MergeQueue;
  tasks: TaskSet;
  workspace: () => GitWorkspace | undefined;
  /** Takes every task back from the workers; their tasks go back to the queue. */
  interrupt: () => void;
  /** The task records were replaced: the graph is rebuilt and what is free is queued. */
  reschedule: () => void;
  emit: (event: NewEvent) => void;
  /** Resolves once every event emitted so far is in the journal. */
  journalled: () => Promise<void>;
}

/**
 * Makes a rollback ready while the run is in its `rollingBack` state (nothing is dispatched):
 * - full: every task as the checkpoint had it, and the integration branch reset to its commit;
 * - partial: the checkpoint's tasks, but a task that finished since keeps its result when its inputs did
 *   not change; files are left alone;
 * - selective: the named tasks and everything downstream of them start over, their merges reverted.
 *
 * All or nothing across a crash: `run.rollback_started` is in the journal before anything is touched, so
 * a run killed half-way is restored rolling back and this runs again; what it does to the repository is
 * safe to do twice (a reset to the same commit, reverts that skip what is reverted already); and the run
 * itself changes only in `commitRollback`, with `run.rolled_back`, in the step that leaves `rollingBack`.
 */
export async function prepareRollback(deps: RollbackDeps, request: RollbackRequest): Promise<RollbackPlan> {
  const { checkpointId, strategy } = request;
  const named = request.tasks ?? [];
  await deps.journalled();
  const saved = await deps.checkpoints.read(checkpointId);
  // Work being merged lands (or not) before anything is taken back.
  await deps.merges.idle();
  deps.interrupt();
  await rollbackFiles(deps, checkpointId, strategy, named);
  const { tasks, reset, kept } = applyRollback(strategy, [...deps.tasks.values()], saved.tasks, named);
  return { tasks, reset, kept, planSummary: strategy === 'full' ? saved.planSummary : deps.doc.planSummary };
}

/** The run takes the rollback: its task records, and `run.rolled_back`, which makes it so after a crash. */
export function commitRollback(deps: RollbackDeps, request: RollbackRequest, plan: RollbackPlan): void {
  const before = [...deps.tasks.values()];
  deps.tasks.replaceAll(plan.tasks);
  // A full rollback brings back the checkpoint's plan summary, when it has another one.
  const planSummary = plan.planSummary !== deps.doc.planSummary ? plan.planSummary : undefined;
  if (planSummary !== undefined) deps.doc.planSummary = planSummary;
  deps.doc.tasksDoneSinceCheckpoint = 0;
  // Told with the records it changed, so a client's view and a restore need nothing else; announced
  // first: a client replaces those records, then folds the statuses the rescheduling emits. (How a
  // finished run ended was dropped as it entered `rollingBack`, which reopened it.)
  deps.emit({
    type: 'run.rolled_back',
    checkpointId: request.checkpointId,
    strategy: request.strategy,
    resetTasks: plan.reset,
    ...changedRecords(before, plan.tasks),
    ...(planSummary !== undefined && { planSummary }),
  });
  deps.reschedule();
}

/**
 * Records a rollback carries at most (their JSON): past it a client fetches the run again and a restore
 * works the records out from the checkpoint. A full rollback of a 100,000-task run is about 55 MB of
 * records, more than one event line should be.
 */
const MAX_CARRIED_RECORD_CHARS = 16 * 1024 * 1024;

/** The records a rollback changed (all of them, in order, when it changed which tasks there are). */
function changedRecords(
  before: readonly TaskRecord[],
  after: TaskRecord[],
): { tasks?: TaskRecord[]; allTasks?: true } {
  const sameTasks = before.length === after.length && before.every((task, i) => task.id === after[i]!.id);
  let chars = 0;
  const changed: TaskRecord[] = [];
  after.forEach((task, i) => {
    const json = JSON.stringify(task);
    if (sameTasks && json === JSON.stringify(before[i])) return;
    chars += json.length;
    changed.push(task);
  });
  if (chars > MAX_CARRIED_RECORD_CHARS) return {};
  return sameTasks ? { tasks: changed } : { tasks: changed, allTasks: true };
}

/**
 * The repository side: full resets the integration branch to the checkpoint's commit, selective reverts
 * the merges of the named tasks and everything downstream; partial leaves files alone.
 */
async function rollbackFiles(
  deps: RollbackDeps,
  checkpointId: string,
  strategy: RollbackStrategy,
  named: string[],
): Promise<void> {
  const workspace = deps.workspace();
  if (!workspace || strategy === 'partial') return;
  if (strategy === 'full') {
    const files = deps.checkpoints.info(checkpointId)?.files;
    if (files) await workspace.resetTo(files.commit);
    return;
  }
  const downstream = downstreamOf([...deps.tasks.values()], named);
  const merged = [...downstream].filter((id) => deps.tasks.statusOf(id) === 'done');
  const reverted = await workspace.revertTasks(merged);
  if (!reverted.ok) {
    throw new OrcError(
      'INVALID_STATE',
      `cannot revert task ${reverted.taskId}: later work conflicts with it (${reverted.conflict.split('\n')[0]}); roll back with --strategy full instead`,
    );
  }
}
