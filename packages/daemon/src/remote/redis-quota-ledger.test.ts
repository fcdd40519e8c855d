import {
  startFakeAnthropicServer,
  startTestRedis,
  type FakeAnthropicServer,
  type TestRedis,
} from '@orc/test-support';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { createAnthropicProvider } from '../model/anthropic-provider.js';
import { QuotaGovernor } from '../quota/quota-governor.js';
import { OBSERVE, RELEASE, RESERVE } from './quota-ledger-scripts.js';
import { connectRedis } from './redis-connection.js';
import { RedisQuotaLedger, SHARED_QUOTAS_KEY, readLedgerState } from './redis-quota-ledger.js';

/**
 * Governors as two `orc worker`s have them, each with its own Redis connection and ledger, calling the
 * Anthropic stand-in through the real SDK: the stand-in enforces each key's limits and counts what came.
 */
let redis: TestRedis;
let server: FakeAnthropicServer;
const connections: Redis[] = [];
const closing: (() => void)[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  for (const close of closing.splice(0)) close();
  for (const connection of connections.splice(0)) connection.disconnect();
  await server?.close();
  await redis.stop();
});

const KEY_ONE = 'sk-ant-test-ledger-one';
const KEY_TWO = 'sk-ant-test-ledger-two';
const MODEL = 'claude-sonnet-5-5';

async function connect(): Promise<Redis> {
  const connection = await connectRedis({ url: redis.url, tls: false }, 5_000);
  connections.push(connection);
  return connection;
}

/** A worker's governor and provider on `apiKey`; shared through Redis unless `alone`. */
async function worker(apiKey: string, options: { alone?: boolean; leaseMs?: number } = {}) {
  const ledger = options.alone
    ? undefined
    : await RedisQuotaLedger.open(await connect(), options.leaseMs ?? 5_000);
  if (ledger) closing.push(() => ledger.close());
  const governor = new QuotaGovernor(systemClock, 8, undefined, ledger);
  closing.push(() => governor.close());
  const provider = createAnthropicProvider({ apiKey, baseURL: server.url });
  /** One work call, admitted by the governor: whether the API answered it. */
  const call = async (): Promise<boolean> => {
    const request = {
      purpose: 'work' as const,
      model: MODEL,
      system: '',
      prompt: 'Write one line.',
      maxTokens: 1024,
    };
    const permit = await governor.admit({ runId: 'r', quota: provider.quotaOf!(MODEL), call: request });
    try {
      const response = await provider.complete({
        ...request,
        signal: new AbortController().signal,
        onRateLimits: permit.onRateLimits,
        onAnswer: permit.onAnswer,
      });
      permit.succeeded(response.usage);
      return true;
    } catch (error) {
      permit.failed(error);
      return false;
    }
  };
  return { governor, ledger, call };
}

/** The most requests that arrived at the stand-in within any `windowMs`. */
function busiestWindow(server: FakeAnthropicServer, windowMs: number): number {
  const arrivals = server.log.map((record) => record.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < arrivals.length; i++) {
    while (arrivals[i]! - arrivals[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('the quota ledger on Redis', () => {
  it('keeps two workers on one key within the key’s limit together; each alone on its buckets is refused', async () => {
    // Four requests a second: the two workers' 16 calls take about three seconds when they share.
    server = await startFakeAnthropicServer({ rateLimits: { requestsPerMinute: 4, minuteMs: 1_000 } });
    const [a, b] = [await worker(KEY_ONE), await worker(KEY_ONE)];
    const answered = await Promise.all([
      ...Array.from({ length: 8 }, a.call),
      ...Array.from({ length: 8 }, b.call),
    ]);
    expect(answered.every(Boolean)).toBe(true);
    expect(server.statusCounts[429]).toBeUndefined();
    expect(server.log).toHaveLength(16);
    // A full bucket lets its four go at once and refills four a second: never more than eight in one.
    expect(busiestWindow(server, 1_000)).toBeLessThanOrEqual(8);
    // Both paced: the shared state counts all sixteen, and each worker sent some.
    const [state] = await connections[0]!.smembers(SHARED_QUOTAS_KEY);
    const fields = await readLedgerState(connections[0]!, state!);
    expect(fields?.['admitted']).toBe('16');
    expect(fields?.['inflight']).toBe('0');
    expect(fields?.['ident']).not.toContain(KEY_ONE);

    // The same on buckets of their own: each believes it has the key's whole limit, and the API refuses.
    await server.close();
    server = await startFakeAnthropicServer({ rateLimits: { requestsPerMinute: 4, minuteMs: 1_000 } });
    const [c, d] = [await worker(KEY_ONE, { alone: true }), await worker(KEY_ONE, { alone: true })];
    await Promise.all([...Array.from({ length: 8 }, c.call), ...Array.from({ length: 8 }, d.call)]);
    expect(server.statusCounts[429]).toBeGreaterThan(0);
  }, 30_000);

  it('gives back the place of a worker that died holding it once its lease runs out', async () => {
    server = await startFakeAnthropicServer({ rateLimits: { requestsPerMinute: 100, minuteMs: 60_000 } });
    const doomed = await worker(KEY_ONE, { leaseMs: 600 });
    const quota = createAnthropicProvider({ apiKey: KEY_ONE, baseURL: server.url }).quotaOf!(MODEL);
    // Its first call holds the only place until an answer tells the limits; then the worker dies.
    const held = await doomed.ledger!.reserve(quota!.key, MODEL, { input: 10, output: 1024 });
    expect(held.ok).toBe(true);
    doomed.ledger!.close();

    const survivor = await worker(KEY_ONE, { leaseMs: 600 });
    const started = Date.now();
    expect(await survivor.call()).toBe(true);
    // Within the lease and a retry, not for ever.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  }, 15_000);

  it('never lets one key’s limit hold the workers of another key', async () => {
    // Two requests a minute: a key's third call would wait half a minute.
    server = await startFakeAnthropicServer({ rateLimits: { requestsPerMinute: 2, minuteMs: 60_000 } });
    const one = await worker(KEY_ONE);
    const two = await worker(KEY_TWO);
    expect(await one.call()).toBe(true);
    expect(await one.call()).toBe(true);
    let third = false;
    // It is still waiting when the test ends: the governor's close cancels it.
    void one.call().then(
      (ok) => (third = ok),
      () => undefined,
    );
    const started = Date.now();
    expect(await two.call()).toBe(true);
    expect(await two.call()).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(third).toBe(false);
    const waiting = one.governor.status().models[0]!;
    expect(waiting.waiting).toBe(1);
    expect(server.statusCounts[429]).toBeUndefined();
    expect(new Set(server.log.map((record) => record.apiKey))).toEqual(new Set([KEY_ONE, KEY_TWO]));
  }, 15_000);
});

describe('the shared buckets when calls arrive out of turn', () => {
  const QUOTA = 'anthropic:fingerprint:claude-sonnet-5-5';
  const NEED = { input: 10, output: 100 };
  const WENT = { outputTokens: 10, answered: true, sent: true, refused: false };
  const read = (remaining: number, fillMs: number) => [
    { dimension: 'requests' as const, limit: 4, remaining, fillMs },
  ];

  /** A ledger whose first call told the limits (four requests, refilled over `fillMs`): three left. */
  async function ledgerAfterFirstCall(fillMs: number): Promise<RedisQuotaLedger> {
    const connection = await connect();
    // Loaded first, so that the ledger's scripts told without waiting run in order with its reserves.
    for (const script of [RESERVE, OBSERVE, RELEASE]) await connection.script('LOAD', script);
    const ledger = await RedisQuotaLedger.open(connection, 5_000);
    closing.push(() => ledger.close());
    const first = await place(ledger);
    ledger.observe(QUOTA, first, read(3, fillMs));
    ledger.release(QUOTA, first, WENT);
    return ledger;
  }

  async function place(ledger: RedisQuotaLedger): Promise<string> {
    const answer = await ledger.reserve(QUOTA, MODEL, NEED);
    if (!answer.ok) throw new Error(`no place: ${answer.reason}`);
    return answer.flight;
  }

  /** How many more calls the ledger lets go now (its scripts run in order on one connection). */
  async function placesLeft(ledger: RedisQuotaLedger): Promise<number> {
    let placed = 0;
    while (placed < 8 && (await ledger.reserve(QUOTA, MODEL, NEED)).ok) placed++;
    return placed;
  }

  it('takes off a reading the calls heard of since its call went, which may have arrived after it', async () => {
    // A minute's refill: nothing comes back while the test runs.
    const ledger = await ledgerAfterFirstCall(60_000);
    const [earlier, later] = [await place(ledger), await place(ledger)];
    // The later call arrived first (two left), the earlier one next (one left), and is heard of first.
    ledger.observe(QUOTA, earlier, read(1, 60_000));
    ledger.observe(QUOTA, later, read(2, 60_000));
    // The server has one left: one more call goes, not two (the second would be refused).
    expect(await placesLeft(ledger)).toBe(1);
  });

  it('leaves a reading unused when a call it may not have counted has ended since', async () => {
    const ledger = await ledgerAfterFirstCall(60_000);
    const [earlier, later] = [await place(ledger), await place(ledger)];
    ledger.observe(QUOTA, earlier, read(1, 60_000));
    ledger.release(QUOTA, earlier, WENT);
    ledger.observe(QUOTA, later, read(2, 60_000));
    expect(await placesLeft(ledger)).toBeLessThanOrEqual(1);
  });

  it('refills no further than the server’s full bucket while a call admitted is on its way', async () => {
    // A request a second: after a second the bucket is full again (four).
    const ledger = await ledgerAfterFirstCall(4_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // A call goes, and takes longer than a second to arrive: the server's bucket stays full (four)
    // meanwhile, and the call takes one of them when it arrives.
    await place(ledger);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await placesLeft(ledger)).toBe(3);
  });
});
