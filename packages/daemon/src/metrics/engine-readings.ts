import type { QuotaGovernor } from '../quota/quota-governor.js';
import type { RedisAttempts } from '../remote/redis-attempts.js';
import type { RunRegistry } from '../run/run-registry.js';
import type { EngineReadings } from './daemon-metrics.js';

/**
 * What a scrape reads of the engine: the runs (summaries), the runs in memory, the quota governor and
 * the calls on the Redis backend's workers (opened when a run first chooses it).
 */
export function engineReadings(
  runs: RunRegistry,
  governor: QuotaGovernor,
  remote: () => RedisAttempts | undefined = () => undefined,
): EngineReadings {
  return {
    runs: () => runs.summaries(),
    workload() {
      let ready = 0;
      let busyWorkers = 0;
      let workers = 0;
      for (const run of runs.loaded()) {
        const { graph, pool } = run.scheduler;
        ready += graph.readyCount + graph.waitingForFiles;
        if (!run.isExecuting()) continue;
        busyWorkers += pool.busy;
        workers += pool.size;
      }
      return { ready, busyWorkers, workers };
    },
    calls() {
      const workers = remote()?.callCounts ?? { inFlight: 0, waiting: 0 };
      return {
        inFlight: governor.inFlightCalls + workers.inFlight,
        waiting: governor.waitingCalls + workers.waiting,
      };
    },
  };
}
