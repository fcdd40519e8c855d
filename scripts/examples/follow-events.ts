/**
 * Follows a run's events and survives a dropped connection: the client reconnects by itself and the
 * subscription resumes after the last event it delivered (tRPC sends it as lastEventId). To show it,
 * the socket is cut once after `--drop-after N` events. Prints one JSON event per line.
 * Usage: node scripts/dist/examples/follow-events.js <runId> [--drop-after N]
 */
import { createClient } from '@orc/daemon/client';

const [runId, flag, value] = process.argv.slice(2);
if (!runId) {
  console.error('usage: follow-events <runId> [--drop-after N]');
  process.exit(2);
}
const dropAfter = flag === '--drop-after' ? Number(value) : Infinity;

const client = await createClient({
  onDisconnect: ({ refused }) =>
    console.error(refused ? 'refused by the daemon' : 'connection dropped; reconnecting'),
});
let seen = 0;
let lastId = 0;
try {
  await new Promise<void>((resolve, reject) => {
    const sub = client.trpc.runs.events.subscribe(
      { runId },
      {
        onData: ({ data: event }) => {
          // Ids only grow; a repeat would mean a duplicate delivery.
          if (event.id <= lastId) throw new Error(`event ${event.id} arrived after ${lastId}`);
          lastId = event.id;
          console.log(JSON.stringify(event));
          if (++seen === dropAfter) client.dropConnection();
          if (
            event.type === 'run.completed' ||
            event.type === 'run.failed' ||
            event.type === 'run.cancelled'
          ) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: reject,
      },
    );
  });
} finally {
  await client.close();
}
