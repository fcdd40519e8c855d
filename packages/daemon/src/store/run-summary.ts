import type { RunSummary } from '@orc/shared';
import type { RunDocument } from './run-document.js';

/**
 * A run's summary read off its document, as the run itself would give it once settled: what the index
 * keeps for a finished run, so listing it needs neither its document nor the run in memory.
 */
export function summarizeRun(doc: RunDocument): RunSummary {
  const taskCounts: Record<string, number> = {};
  for (const task of doc.tasks) taskCounts[task.status] = (taskCounts[task.status] ?? 0) + 1;
  const execution = doc.config['execution'] as { max_workers?: unknown } | undefined;
  const maxWorkers = execution?.max_workers;
  return {
    id: doc.id,
    goal: doc.goal,
    status: doc.status,
    ...(doc.status === 'paused' && doc.pauseReason !== undefined && { pauseReason: doc.pauseReason }),
    models: doc.models,
    maxWorkers: typeof maxWorkers === 'number' && maxWorkers > 0 ? maxWorkers : 1,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.finishedAt !== undefined && { finishedAt: doc.finishedAt }),
    taskCounts,
    taskTotal: doc.tasks.length,
    usage: doc.usage,
    costUsd: doc.costUsd,
    ...(doc.error !== undefined && { error: doc.error }),
    lastEventId: doc.lastEventId,
    ...(doc.damage !== undefined && { damage: doc.damage }),
  };
}
