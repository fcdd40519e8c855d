import type { RemoteWorkers } from '@orc/shared';

/**
 * The Redis backend's workers as `orc ls` shows them under the runs: where, how many, and per worker
 * what it runs (`run task#attempt`).
 */
export function workerLines(remote: RemoteWorkers): string[] {
  const where = `${remote.url} (queue ${remote.queue})`;
  if (!remote.reachable) return [`workers: Redis at ${where} cannot be reached; runs wait for it`];
  if (remote.workers.length === 0)
    return [`workers: none on ${where}; start one with orc worker --redis ${remote.url}`];
  const width = Math.max(...remote.workers.map((worker) => worker.id.length));
  return [
    `workers on ${where}: ${remote.workers.length}`,
    ...remote.workers.map((worker) => {
      const load = `${worker.running.length}/${worker.concurrency}`;
      const doing =
        worker.running.length === 0
          ? 'idle'
          : worker.running.map((job) => `${job.runId} ${job.taskId}#${job.attempt}`).join(', ');
      return `  ${worker.id.padEnd(width)}  ${load.padStart(5)}  ${doing}`;
    }),
  ];
}
