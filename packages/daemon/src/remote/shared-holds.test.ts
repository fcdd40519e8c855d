import { startTestRedis, type TestRedis } from '@orc/test-support';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { ModelError } from '../model/model-error.js';
import { QuotaGovernor } from '../quota/quota-governor.js';
import { connectRedis } from './redis-connection.js';
import { holdsChannel, shareQuotaHolds } from './shared-holds.js';

/** Three workers' governors on one real redis-server: two share an API key, the third has its own. */
let redis: TestRedis;
const connections: Redis[] = [];
const stops: (() => void)[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const connection of connections.splice(0)) connection.disconnect();
  await redis.stop();
});

async function worker(name: string, apiKey: string): Promise<QuotaGovernor> {
  const governor = new QuotaGovernor(systemClock, 4);
  const connection = await connectRedis({ url: redis.url, tls: false }, 5_000);
  connections.push(connection);
  stops.push(await shareQuotaHolds({ connection, governor, apiKey, worker: name }));
  return governor;
}

const quota = { key: 'anthropic api claude-sonnet-5-5', metered: true };
const call = {
  purpose: 'work' as const,
  model: 'claude-sonnet-5-5',
  system: 's',
  prompt: 'p',
  maxTokens: 10,
};

describe('shareQuotaHolds', () => {
  it('holds every worker on the key when the API tells one to wait, and no worker on another key', async () => {
    const first = await worker('a-1', 'sk-ant-key-one');
    const second = await worker('b-1', 'sk-ant-key-one');
    const other = await worker('c-1', 'sk-ant-key-two');
    for (const governor of [second, other])
      (await governor.admit({ runId: 'r', quota, call })).succeeded({
        inputTokens: 1,
        outputTokens: 1,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      });
    const permit = await first.admit({ runId: 'r', quota, call });
    permit.failed(new ModelError('transient', 'rate limited', { status: 429, retryAfterMs: 30_000 }));

    const deadline = Date.now() + 5_000;
    const heldOn = (governor: QuotaGovernor) =>
      governor.status().models.find((m) => m.key === quota.key)?.blockedUntil;
    while (heldOn(second) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(heldOn(first)).toBeDefined();
    expect(heldOn(second)).toBe(heldOn(first));
    expect(heldOn(other)).toBeUndefined();
  });

  it('names the channel by a fingerprint of the key, never the key', () => {
    const channel = holdsChannel('sk-ant-api03-secret-value');
    expect(channel).toMatch(/^orc:quota:[0-9a-f]{16}$/);
    expect(channel).not.toContain('secret');
    expect(holdsChannel('sk-ant-api03-secret-value')).toBe(channel);
    expect(holdsChannel('another')).not.toBe(channel);
  });
});
