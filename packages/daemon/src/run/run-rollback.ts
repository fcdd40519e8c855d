import { OrcError, type NewEvent, type RollbackStrategy } from '@orc/shared';
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
  deps.tasks.replaceAll(plan.tasks);
  deps.doc.planSummary = plan.planSummary;
  deps.doc.tasksDoneSinceCheckpoint = 0;
  // A finished run rolled back has work again: how it ended no longer holds.
  delete deps.doc.finishedAt;
  delete deps.doc.error;
  delete deps.doc.finalReview;
  // Announced first: a client resets those tasks, then folds the statuses the rescheduling emits.
  deps.emit({
    type: 'run.rolled_back',
    checkpointId: request.checkpointId,
    strategy: request.strategy,
    resetTasks: plan.reset,
  });
  deps.reschedule();
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
  const merged = [...downstream].filter((id) => deps.tasks.get(id)?.status === 'done');
  const reverted = await workspace.revertTasks(merged);
  if (!reverted.ok) {
    throw new OrcError(
      'INVALID_STATE',
      `cannot revert task ${reverted.taskId}: later work conflicts with it (${reverted.conflict.split('\n')[0]}); roll back with --strategy full instead`,
    );
  }
}
