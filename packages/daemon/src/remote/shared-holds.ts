import type { Redis } from 'ioredis';
import * as z from 'zod';
import { keyFingerprint } from '../quota/key-fingerprint.js';
import type { QuotaGovernor } from '../quota/quota-governor.js';
import { KEY_PREFIX } from './attempt-wire.js';
import { quiet } from './redis-connection.js';
import { storeHold } from './redis-quota-ledger.js';

const SharedHold = z.object({
  from: z.string(),
  key: z.string(),
  model: z.string(),
  metered: z.boolean(),
  until: z.number(),
  reason: z.string(),
});

/**
 * The channel of the workers that call the model with one API key: named by the key's fingerprint
 * (`keyFingerprint`), never the key. Workers with another key, or none, hear nothing of it.
 */
export function holdsChannel(apiKey: string | undefined): string {
  return `${KEY_PREFIX}:quota:${keyFingerprint(apiKey)}`;
}

/**
 * Shares the quota governor's holds among the workers of one API key through Redis: when the API tells
 * one worker to wait (a 429's `retry-after`, a usage limit until its reset), every worker on that key
 * holds its calls of that quota until then, instead of each finding out with a refusal of its own.
 * Resolves with the function that stops sharing.
 */
export async function shareQuotaHolds(options: {
  connection: Redis;
  governor: QuotaGovernor;
  apiKey: string | undefined;
  /** This worker, so it ignores its own holds coming back. */
  worker: string;
}): Promise<() => void> {
  const { connection, governor, worker } = options;
  const channel = holdsChannel(options.apiKey);
  const subscriber = quiet(connection.duplicate());
  subscriber.on('message', (_channel: string, message: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    const hold = SharedHold.safeParse(parsed);
    if (!hold.success || hold.data.from === worker) return;
    const { key, metered, model, until, reason } = hold.data;
    governor.hold({ key, metered }, model, until, `${reason} (told by worker ${hold.data.from})`);
  });
  await subscriber.subscribe(channel);
  let sharing = true;
  governor.onHold((hold) => {
    if (!sharing || connection.status !== 'ready') return;
    void connection.publish(channel, JSON.stringify({ ...hold, from: worker })).catch(() => undefined);
    if (hold.metered) void storeHold(connection, hold.key, hold.until, hold.reason).catch(() => undefined);
  });
  return () => {
    sharing = false;
    subscriber.disconnect();
  };
}
