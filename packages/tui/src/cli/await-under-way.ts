import type { OrcClient } from '@orc/daemon/client';
import { plural, type OrcEvent, type RunView } from '@orc/shared';
import type { ConnectionWatch } from './daemon-connection.js';
import { followEvents } from './follow-events.js';

export interface UnderWayOptions {
  runId: string;
  /** The last event told. */
  afterId: number;
  onEvent: (event: OrcEvent) => void;
  /** Told once, when there is work to wait for. */
  say: (text: string) => void;
  signal: AbortSignal;
  connection?: ConnectionWatch;
}

/**
 * The run as it stands once the work under way at its pause has landed. A pause at the budget lets the
 * attempts and reviews it admitted finish, and they are paid for after it: a trial's `orc run` ended
 * saying $0.0013 where the run then stood at $0.0026. So the run is followed on while it stays paused
 * with workers busy; Ctrl-C (`signal`) stops the wait, and the view then says what is still under way.
 */
export async function awaitUnderWay(client: OrcClient, options: UnderWayOptions): Promise<RunView> {
  const { runId, signal } = options;
  let view = await client.trpc.runs.get.query({ runId });
  let afterId = options.afterId;
  let told = false;
  while (view.status === 'paused' && view.busyWorkers > 0 && !signal.aborted) {
    if (!told)
      options.say(
        `run ${runId} paused (${view.pauseReason ?? 'unknown'}); waiting for the work of ${plural(view.busyWorkers, 'task')} under way to land (Ctrl-C detaches)`,
      );
    told = true;
    // Each event may be a worker's last: the view is asked again after it.
    afterId = await followEvents(client, {
      runId,
      afterId,
      onEvent: options.onEvent,
      until: () => true,
      signal,
      ...(options.connection && { connection: options.connection }),
    });
    view = await client.trpc.runs.get.query({ runId });
  }
  // The events up to the view's are told too, as they were before the wait.
  if (told && !signal.aborted && view.lastEventId > afterId)
    await followEvents(client, {
      runId,
      afterId,
      onEvent: options.onEvent,
      until: (event) => event.id >= view.lastEventId,
      signal,
      ...(options.connection && { connection: options.connection }),
    });
  return view;
}
