import type { OrcEvent } from '@orc/shared';
import type { AttachClient } from './attach-client.js';

/**
 * Every event of a run after `afterId` (the view's last), in order, then live ones, until the returned
 * function is called: in batches (a replay, then each group commit of the journal; at most 1,000 events
 * and 96 KiB a batch), which the screen folds in at its next frame. `onError` hears of a stream that ended because
 * the daemon went away or refused.
 */
export function followRun(
  client: AttachClient,
  runId: string,
  afterId: number,
  onEvents: (events: readonly OrcEvent[]) => void,
  onError: (error: unknown) => void,
): () => void {
  const subscription = client.trpc.runs.eventBatches.subscribe(
    { runId, lastEventId: afterId > 0 ? String(afterId) : null },
    { onData: ({ data }) => onEvents(data.events), onError },
  );
  return () => subscription.unsubscribe();
}
