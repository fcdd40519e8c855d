import type { OrcEvent } from '@orc/shared';
import type { AttachClient } from './attach-client.js';

/**
 * Every event of a run after `afterId` (the view's last), in order, then live ones, until the returned
 * function is called. `onError` hears of a stream that ended because the daemon went away or refused.
 */
export function followRun(
  client: AttachClient,
  runId: string,
  afterId: number,
  onEvent: (event: OrcEvent) => void,
  onError: (error: unknown) => void,
): () => void {
  const subscription = client.trpc.runs.events.subscribe(
    { runId, lastEventId: afterId > 0 ? String(afterId) : null },
    { onData: ({ data }) => onEvent(data), onError },
  );
  return () => subscription.unsubscribe();
}
