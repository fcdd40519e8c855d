import { FINISHED_RUN_STATUSES, type RunForecast } from '@orc/shared';
import { pauseMessageOf } from '../actors/run.machine.js';
import { recordOfTask } from '../store/run-document.js';
import type { RunViewSource } from './run-view.js';
import type { Run } from './run.js';

/**
 * What a summary, a view or a page of a live run is made of: the run as of its last event, showing the
 * tasks in `unconfirmed` (done, their completion not on disk yet) as still being reviewed.
 */
export function viewSourceOf(run: Run, unconfirmed: ReadonlySet<string>): RunViewSource {
  const paused = run.status === 'paused';
  const message = paused && run.actor ? pauseMessageOf(run.actor.getSnapshot()) : undefined;
  const taskCounts = run.scheduler.graph.countsByStatus();
  if (unconfirmed.size > 0) {
    taskCounts['done'] = (taskCounts['done'] ?? 0) - unconfirmed.size;
    if (taskCounts['done'] === 0) delete taskCounts['done'];
    taskCounts['reviewing'] = (taskCounts['reviewing'] ?? 0) + unconfirmed.size;
  }
  // Records, and settled tasks as their text: parsed only where the view shows them.
  const records = () => run.tasks.rows();
  return {
    doc: run.doc,
    status: run.status,
    pauseReason: paused ? run.pauseReason : undefined,
    ...(message !== undefined && { pauseMessage: message }),
    maxWorkers: run.config.execution.max_workers,
    taskCounts,
    tasks:
      unconfirmed.size === 0
        ? records
        : function* () {
            for (const task of records())
              yield unconfirmed.has(task.id) ? { ...recordOfTask(task), status: 'reviewing' as const } : task;
          },
    taskTotal: run.tasks.size,
    busyWorkers: run.scheduler.pool.busy,
    train: run.scheduler.train?.view(),
    lastEventId: run.journal.lastId,
    forecast: forecastOf(run),
  };
}

/** Where the run is heading (cost, finish time), while it is live. */
export function forecastOf(run: Run): RunForecast | undefined {
  if (FINISHED_RUN_STATUSES.has(run.status) || run.status === 'analyzing') return undefined;
  const { graph } = run.scheduler;
  const resumeAt = run.doc.resumeAt === undefined ? undefined : Date.parse(run.doc.resumeAt);
  const finalReviewUsd =
    run.doc.finalReview !== undefined
      ? 0
      : run.manager.foreseeFinalReview(
          run.doc.planSummary ?? '',
          () => run.tasks.rows(),
          // Made again as failures double, not at each: 20-30 ms a time at 100,000 tasks (2 cores, load 2-5).
          `${run.tasks.size}:${Math.floor(Math.log2(graph.count('failed') + 1))}`,
        );
  return run.scheduler.forecaster.forecast({
    now: run.deps.clock.now(),
    spentUsd: run.doc.costUsd,
    finalReviewUsd,
    count: (status) => graph.count(status),
    total: run.tasks.size,
    resumeAt,
    waitsForAPerson: run.status === 'paused' && resumeAt === undefined,
    task: (id) => run.tasks.get(id),
  });
}
