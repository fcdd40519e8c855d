import {
  runSourceOf,
  summaryGoal,
  type PauseReason,
  type RunForecast,
  type RunStatus,
  type RunSummary,
  type TrainView,
} from '@orc/shared';
import type { DocumentTask, RunDocument, RunDocumentToWrite } from './run-document.js';

/** What a summary or a view is made of, read from the run's parts. */
export interface RunViewSource {
  doc: Omit<RunDocument, 'tasks'>;
  status: RunStatus;
  pauseReason: PauseReason | undefined;
  /** What the pause says to a person (why the disk takes no writes, the checkpoint a rollback goes to). */
  pauseMessage?: string;
  maxWorkers: number;
  taskCounts: Record<string, number>;
  /** The tasks in the run's order: records, or settled tasks' text (parsed only where a view shows them). */
  tasks: () => Iterable<DocumentTask>;
  taskTotal: number;
  busyWorkers: number;
  /** The merge train of a repository run with `integration.verify`. */
  train?: TrainView | undefined;
  lastEventId: number;
  /** A live run's forecast (run/run-forecast.ts). */
  forecast?: RunForecast | undefined;
}

/** The run in a line of `orc ls`: no task records. */
export function summaryOf(source: RunViewSource): RunSummary {
  const { doc } = source;
  return {
    id: doc.id,
    // A list of runs never ships whole goals: the view has the whole one.
    goal: summaryGoal(doc.goal),
    status: source.status,
    ...(source.pauseReason !== undefined && { pauseReason: source.pauseReason }),
    ...(source.pauseReason !== undefined &&
      source.pauseMessage !== undefined && { pauseMessage: source.pauseMessage }),
    ...(source.pauseReason !== undefined && doc.resumeAt !== undefined && { resumeAt: doc.resumeAt }),
    ...(source.pauseReason === 'quota' && doc.quotaModel !== undefined && { quotaModel: doc.quotaModel }),
    models: doc.models,
    maxWorkers: source.maxWorkers,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.finishedAt !== undefined && { finishedAt: doc.finishedAt }),
    ...(doc.idleMs !== undefined && { idleMs: doc.idleMs }),
    ...(doc.idleSince !== undefined && { idleSince: doc.idleSince }),
    taskCounts: source.taskCounts,
    taskTotal: source.taskTotal,
    usage: doc.usage,
    costUsd: doc.costUsd,
    ...(doc.error !== undefined && { error: doc.error }),
    ...(source.forecast !== undefined && { forecast: source.forecast }),
    lastEventId: source.lastEventId,
    ...(doc.source && { source: runSourceOf(doc.source) }),
  };
}

/**
 * A run's summary read off its document, as the run itself would give it once settled: what the index
 * keeps for a finished run, so listing it needs neither its document nor the run in memory.
 */
export function summarizeRun(doc: RunDocumentToWrite): RunSummary {
  const taskCounts: Record<string, number> = {};
  for (const task of doc.tasks) taskCounts[task.status] = (taskCounts[task.status] ?? 0) + 1;
  const execution = doc.config['execution'] as { max_workers?: unknown } | undefined;
  const maxWorkers = execution?.max_workers;
  return {
    ...summaryOf({
      doc,
      status: doc.status,
      pauseReason: doc.status === 'paused' ? doc.pauseReason : undefined,
      maxWorkers: typeof maxWorkers === 'number' && maxWorkers > 0 ? maxWorkers : 1,
      taskCounts,
      tasks: () => doc.tasks,
      taskTotal: doc.tasks.length,
      busyWorkers: 0,
      lastEventId: doc.lastEventId,
    }),
    ...(doc.damage !== undefined && { damage: doc.damage }),
  };
}
