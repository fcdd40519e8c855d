import {
  summaryGoal,
  type PauseReason,
  type RunSource,
  type RunStatus,
  type RunSummary,
  type RunView,
  type TaskRecord,
} from '@orc/shared';
import type { RunDocument } from '../store/run-document.js';

/** What a summary or a view is made of, read from the run's parts. */
export interface RunViewSource {
  doc: RunDocument;
  status: RunStatus;
  pauseReason: PauseReason | undefined;
  maxWorkers: number;
  taskCounts: Record<string, number>;
  tasks: () => Iterable<TaskRecord>;
  taskTotal: number;
  busyWorkers: number;
  lastEventId: number;
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
    ...(source.pauseReason !== undefined && doc.resumeAt !== undefined && { resumeAt: doc.resumeAt }),
    models: doc.models,
    maxWorkers: source.maxWorkers,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.finishedAt !== undefined && { finishedAt: doc.finishedAt }),
    taskCounts: source.taskCounts,
    taskTotal: source.taskTotal,
    usage: doc.usage,
    costUsd: doc.costUsd,
    ...(doc.error !== undefined && { error: doc.error }),
    lastEventId: source.lastEventId,
    ...(doc.source && { source: runSourceOf(doc.source) }),
  };
}

/** Where the tasks came from, as a client sees it; runs from before `writeBack` existed wrote back. */
function runSourceOf(source: NonNullable<RunDocument['source']>): RunSource {
  return { kind: source.kind, file: source.file, tag: source.tag, writeBack: source.writeBack !== false };
}

/** The run for a client; without `full`, results and outputs are left out (10,000 of them are megabytes). */
export function viewOf(source: RunViewSource, full: boolean): RunView {
  const tasks = [...source.tasks()];
  return {
    ...summaryOf(source),
    goal: source.doc.goal,
    ...(source.doc.planSummary !== undefined && { planSummary: source.doc.planSummary }),
    tasks: full ? tasks : tasks.map(withoutOutputs),
    ...(source.doc.finalReview !== undefined && { finalReview: source.doc.finalReview }),
    busyWorkers: source.busyWorkers,
  };
}

/**
 * The task without its result and attempt outputs. Set to undefined rather than left out with a rest
 * pattern: the wire drops them all the same, and copying 10,000 records goes 5–10× faster.
 */
function withoutOutputs(task: TaskRecord): TaskRecord {
  return {
    ...task,
    result: undefined,
    attempts: task.attempts.map((attempt) => ({ ...attempt, output: undefined })),
  };
}
