import type { Orchestrator } from '@orc/daemon';
import type { OrcEvent, RunView } from '@orc/shared';

/** What a `CountingOrchestrator` saw of the calls made to the engine. */
export interface OrchestratorCounts {
  /** Event streams being served right now: a dropped client's ended. */
  subscriptions: number;
  /** Events handed to streams in total (a batch counts its events). */
  delivered: number;
  /** Run views built (`runs.get` calls that ran). */
  views: number;
}

export type CountingOrchestrator = Orchestrator & { readonly counts: OrchestratorCounts };

/**
 * The real engine, counted: every call goes to `inner`, and the streams it serves and the views it builds
 * are counted, for tests of the RPC layer that must see what reached the engine (not a stand-in for it).
 */
export function countingOrchestrator(inner: Orchestrator): CountingOrchestrator {
  const counts: OrchestratorCounts = { subscriptions: 0, delivered: 0, views: 0 };
  return {
    ...inner,
    counts,
    getRun(runId, options): Promise<RunView> {
      counts.views++;
      return inner.getRun(runId, options);
    },
    events(runId, afterId, signal): AsyncIterable<OrcEvent> {
      // Opened at the call, as the engine's own: an unknown run throws here.
      const events = inner.events(runId, afterId, signal);
      return {
        async *[Symbol.asyncIterator]() {
          counts.subscriptions++;
          try {
            for await (const event of events) {
              counts.delivered++;
              yield event;
            }
          } finally {
            counts.subscriptions--;
          }
        },
      };
    },
    eventBatches(runId, afterId, signal, follow) {
      const batches = inner.eventBatches(runId, afterId, signal, follow);
      return {
        async *[Symbol.asyncIterator]() {
          counts.subscriptions++;
          try {
            for await (const batch of batches) {
              counts.delivered += batch.count;
              yield batch;
            }
          } finally {
            counts.subscriptions--;
          }
        },
      };
    },
  };
}
