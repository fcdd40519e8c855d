import type { RemoteWorkers } from '@orc/shared';

/**
 * The Redis backend in one line of the attach screen's header: how many `orc worker` processes are
 * connected and how busy they are, or that Redis cannot be reached (runs wait for it).
 */
export function remoteLine(remote: RemoteWorkers): string {
  if (!remote.reachable) return `remote workers: Redis at ${remote.url} cannot be reached; runs wait for it`;
  const { workers } = remote;
  if (workers.length === 0)
    return `remote workers: none connected to ${remote.url} (orc worker --redis ${remote.url})`;
  const running = workers.reduce((sum, worker) => sum + worker.running.length, 0);
  const slots = workers.reduce((sum, worker) => sum + worker.concurrency, 0);
  const hosts = new Set(workers.map((worker) => worker.host)).size;
  return `remote workers ${workers.length} on ${hosts} host${hosts === 1 ? '' : 's'}, ${running}/${slots} busy, via ${remote.url}`;
}
