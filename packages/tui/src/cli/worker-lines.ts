import { idList, localTime, type QuotaStatus, type RemoteWorkers } from '@orc/shared';

/**
 * The Redis backend's workers as `orc ls` shows them under the runs: where, how many, per worker what it
 * runs (`run task#attempt`), and the quotas they share per API key: what is left, what went, what the
 * API refused.
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
    ...quotaLines(remote.quotas ?? []),
  ];
}

/**
 * A live run's running tasks that no live worker says it runs: queued still, or their worker stopped
 * answering and BullMQ hands the job on once it stalls. Without this line `orc show` says only
 * "running" for a minute or more after a worker dies.
 */
export function unplacedLine(runId: string, running: readonly string[], remote: RemoteWorkers): string[] {
  const placed = new Set(
    remote.workers.flatMap((worker) =>
      worker.running.filter((job) => job.runId === runId).map((job) => job.taskId),
    ),
  );
  const waiting = running.filter((taskId) => !placed.has(taskId));
  if (waiting.length === 0) return [];
  const shown = idList(waiting, 8);
  return [
    `not on a worker: ${shown} (queued, or their worker stopped answering: the queue hands them on once ` +
      `redis.stall_seconds pass)`,
  ];
}

const UNITS: Record<QuotaStatus['limits'][number]['dimension'], string> = {
  requests: 'requests',
  'input-tokens': 'input tokens',
  'output-tokens': 'output tokens',
  tokens: 'tokens',
};

/** `claude-sonnet-5-5 (key 3fa9c0e1d2b4a5f6): 3 of 4 requests left; 1 in flight, 24 sent, 0 refused (429)`. */
function quotaLines(quotas: readonly QuotaStatus[]): string[] {
  if (quotas.length === 0) return [];
  return [
    'quotas the workers share:',
    ...quotas.map((quota) => {
      const fingerprint = /\b([0-9a-f]{16}|no-key)\b/.exec(quota.key)?.[1];
      const whose = fingerprint === undefined ? quota.model : `${quota.model} (key ${fingerprint})`;
      const left = quota.limits
        .filter((limit) => limit.remaining !== undefined)
        .map((limit) => `${count(limit.remaining!)} of ${count(limit.limit)} ${UNITS[limit.dimension]}`);
      const state = [
        left.length === 0 ? 'limits not known yet' : `${left.join(', ')} left`,
        `${quota.inFlight} in flight`,
        ...(quota.waiting > 0 ? [`${quota.waiting} waiting`] : []),
        `${quota.admitted} sent`,
        `${quota.rateLimited} refused (429)`,
        ...(quota.blockedUntil !== undefined ? [`held until ${localTime(quota.blockedUntil)}`] : []),
      ];
      return `  ${whose}: ${state.join(', ')}`;
    }),
  ];
}

function count(n: number): string {
  return Math.max(0, Math.floor(n)).toLocaleString('en-US');
}
