import type { OrcClient } from '@orc/daemon/client';
import type { OrcEvent } from '@orc/shared';
import { DaemonRestart, STOPPED_DAEMON } from '../screen/daemon-restart.js';
import type { ConnectionWatch } from './daemon-connection.js';

export interface FollowOptions {
  runId: string;
  /** Resume after this event id (0: from the start). */
  afterId: number;
  onEvent: (event: OrcEvent) => void;
  /** Return true to stop after this event. */
  until: (event: OrcEvent) => boolean;
  signal?: AbortSignal;
  /** Told when the daemon goes away and comes back; said on stderr, since the stream just waits. */
  connection?: ConnectionWatch;
}

/**
 * Streams a run's events (received in batches, told one at a time) until `until` says stop or the signal aborts. The client resumes after the last
 * event on a reconnect, and events are de-duplicated by id here too, so nothing is shown twice.
 */
export function followEvents(client: OrcClient, options: FollowOptions): Promise<number> {
  let lastId = options.afterId;
  const say = (text: string) => process.stderr.write(`orc: ${text}\n`);
  // A daemon that died is started again, once per loss, as any command would; one stopped on purpose is not.
  const restart = new DaemonRestart(options.connection?.startDaemon, {
    started: say,
    failed: (error) =>
      say(
        `starting the daemon failed (${error instanceof Error ? error.message : String(error)}); waiting for it (orc daemon start starts it)`,
      ),
  });
  const unwatch = options.connection?.watch((connected, stopped) => {
    if (connected) return say('the daemon is back; following on');
    const answer = restart.lost(stopped);
    say(
      answer === 'stopped'
        ? `${STOPPED_DAEMON}; following on once it is started again (orc daemon start)`
        : answer === 'starting'
          ? 'lost the daemon; starting it again'
          : 'lost the daemon; waiting for it to come back (orc daemon start starts it)',
    );
  });
  return new Promise<number>((resolve, reject) => {
    let finished = false;
    const subscription = client.trpc.runs.eventBatches.subscribe(
      { runId: options.runId, lastEventId: options.afterId > 0 ? String(options.afterId) : null },
      {
        onData: ({ data }) => {
          for (const event of data.events) {
            if (finished) return;
            if (event.id <= lastId) continue;
            lastId = event.id;
            options.onEvent(event);
            if (options.until(event)) finish();
          }
        },
        onError: (error) => {
          subscription.unsubscribe();
          unwatch?.();
          reject(error);
        },
      },
    );
    const finish = () => {
      finished = true;
      subscription.unsubscribe();
      unwatch?.();
      options.signal?.removeEventListener('abort', finish);
      resolve(lastId);
    };
    if (options.signal?.aborted) finish();
    options.signal?.addEventListener('abort', finish, { once: true });
  });
}

/** An AbortSignal that fires on Ctrl-C, so a following command can detach cleanly. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}
