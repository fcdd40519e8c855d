import {
  startFakeAnthropicServer,
  startTestRedis,
  type FakeAnthropicServer,
  type TestRedis,
} from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventsUntilEnd, Sandbox, taskSpecs, waitFor } from './harness.js';
import { startRemoteWorker, stopRemoteWorkers, type RemoteWorkerProcess } from './remote-workers.js';

/**
 * The quota of one API key held by every `orc worker` that uses it: real worker processes with homes of
 * their own on a real redis-server, calling the Anthropic stand-in, which enforces each key's limits and
 * counts what came. The daemon plans and reviews on the simulated model; the workers' calls are the
 * key's only spend.
 */
const KEY = 'sk-ant-test-shared-quota-0000';
let redis: TestRedis;
let sandbox: Sandbox;
let server: FakeAnthropicServer | undefined;
const workers: RemoteWorkerProcess[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
  sandbox = await Sandbox.create();
});

afterEach(async () => {
  await stopRemoteWorkers(workers);
  await sandbox.cleanup();
  await server?.close();
  server = undefined;
  await redis.stop();
});

function daemonConfig(url: string) {
  return {
    models: { provider: 'simulated', worker: { provider: 'anthropic' } },
    simulated: { latency_ms: { min: 0, max: 0 } },
    execution: { backend: 'redis', max_workers: 8 },
    redis: { url, stall_seconds: 2 },
  };
}

/** An `orc worker` on the stand-in with `apiKey`, logging each answer it made (ORC_DEBUG). */
function worker(apiKey: string, concurrency: number): Promise<RemoteWorkerProcess> {
  return startRemoteWorker(
    ['--redis', redis.url, '--concurrency', String(concurrency)],
    { models: { provider: 'anthropic', base_url: server!.url } },
    workers,
    { ANTHROPIC_API_KEY: apiKey, ORC_DEBUG: '1' },
  );
}

const answeredBy = (worker: RemoteWorkerProcess) =>
  worker
    .said()
    .split('\n')
    .filter((line) => line.includes('"msg":"attempt answered"')).length;

/** The most requests that arrived at the stand-in within any `windowMs`. */
function busiestWindow(windowMs: number): number {
  const arrivals = server!.log.map((record) => record.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < arrivals.length; i++) {
    while (arrivals[i]! - arrivals[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Sums the samples of a metric whose labels include every one given, from Prometheus' text format. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`));
    if (has) sum += Number(match[3]);
  }
  return sum;
}

describe('one API key on several workers', () => {
  it('keeps two workers within the key’s limit together, and the daemon counts their calls', async () => {
    // Four requests a second for the key: 24 calls take about five seconds, whoever makes them.
    server = await startFakeAnthropicServer({
      rateLimits: { requestsPerMinute: 4, minuteMs: 1_000 },
      latencyMs: 100,
    });
    await sandbox.writeConfig(daemonConfig(redis.url));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    const first = await worker(KEY, 4);
    const second = await worker(KEY, 4);
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(24) });
    const events = await eventsUntilEnd(client, run.id);
    expect(events.at(-1)?.type).toBe('run.completed');

    // Every call went once, none was refused, and no second saw more than a full bucket and its refill.
    // (Under heavy load a worker may miss renewing a job's 2 s lock, and the job is made again.)
    expect(server.log.length).toBeGreaterThanOrEqual(24);
    expect(server.statusCounts[429]).toBeUndefined();
    expect(busiestWindow(1_000)).toBeLessThanOrEqual(8);
    // Both took their share of the work. (Their logs come through pipes, and may trail the run's end.)
    await waitFor(
      () => Promise.resolve(answeredBy(first) + answeredBy(second) >= server!.log.length || undefined),
      10_000,
    ).catch(() => undefined);
    expect(answeredBy(first)).toBeGreaterThan(0);
    expect(answeredBy(second)).toBeGreaterThan(0);
    expect(answeredBy(first) + answeredBy(second)).toBe(server.log.length);

    // The daemon's metrics count the workers' calls as they would its own.
    const text = (await sandbox.orc(['metrics'])).stdout;
    expect(metric(text, 'orc_model_calls_total', { role: 'worker', outcome: 'succeeded' })).toBe(24);
    expect(metric(text, 'orc_tokens_total', { role: 'worker', kind: 'output' })).toBeGreaterThan(0);
    const model = /orc_model_calls_total\{role="worker",model="([^"]+)"/.exec(text)![1]!;
    expect(metric(text, 'orc_quota_wait_seconds_count', { model })).toBe(server.log.length);
    // Some waited for the key's quota at their worker: 24 calls at four a second.
    expect(metric(text, 'orc_quota_wait_seconds_sum', { model })).toBeGreaterThan(1);
    expect(metric(text, 'orc_model_refusals_total')).toBe(0);

    // daemon.health shows the key's shared quota: its limit as the answers said, every call counted,
    // and every place given back (a worker gives it back after the answer, without waiting for Redis).
    const health = await waitFor(async () => {
      const current = await client.trpc.daemon.health.query();
      const counted = (quota: (typeof current.quota.models)[number]) =>
        quota.shared && quota.admitted === server!.log.length && quota.inFlight === 0;
      return current.quota.models.find(counted) ? current : undefined;
    }, 10_000);
    const shared = health.quota.models.find((quota) => quota.shared)!;
    expect(shared.limits.find((limit) => limit.dimension === 'requests')?.limit).toBe(4);
    expect(shared.rateLimited).toBe(0);
    expect(shared.key).not.toContain(KEY);
    expect(JSON.stringify(health)).not.toContain(KEY);
    // orc ls shows it under the workers, as a person reads it.
    const ls = (await sandbox.orc(['ls'])).stdout;
    expect(ls).toContain('quotas the workers share:');
    expect(ls).toMatch(
      / {2}\S+ \(key [0-9a-f]{16}\): \d of 4 requests left, 0 in flight, \d+ sent, 0 refused \(429\)/,
    );
  }, 120_000);

  it('does not let a worker killed mid-call hold the key’s quota for ever', async () => {
    // 10,000 output tokens a minute, and a call holds back its max_tokens (8,192) of output until
    // similar answers have come back: one call at a time, the next when it ends. The first worker is
    // killed while its call is out (the first answer takes 40 s), so its place is never given back by
    // its end; the others take a second.
    let calls = 0;
    server = await startFakeAnthropicServer({
      rateLimits: { requestsPerMinute: 100, outputTokensPerMinute: 10_000, minuteMs: 60_000 },
      latencyMs: () => (++calls === 1 ? 40_000 : 1_000),
    });
    await sandbox.writeConfig(daemonConfig(redis.url));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    const doomed = await worker(KEY, 2);
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(3) });
    const ended = eventsUntilEnd(client, run.id);
    await waitFor(() => Promise.resolve(server!.inFlight > 0 ? true : undefined), 20_000);
    const survivor = await worker(KEY, 2);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const killedAt = Date.now();

    const events = await ended;
    expect(events.at(-1)?.type).toBe('run.completed');
    // The survivor's first call went once the dead worker's place expired (its lease: the 2 s stall
    // interval), not after the dead call's answer would have come (40 s), and not never. The bound
    // leaves a loaded machine room (it was 5 s with 6 s answers, and failed at load 11).
    const after = server.log.filter((record) => record.at >= killedAt);
    expect(after.length).toBeGreaterThanOrEqual(3);
    expect(after[0]!.at - killedAt).toBeLessThan(20_000);
    expect(answeredBy(survivor)).toBe(3);
    expect(server.statusCounts[429]).toBeUndefined();
  }, 90_000);

  it('pauses the run with the time when its worker will wait a minute or more for the key’s quota', async () => {
    // Two requests every ten minutes: the third call would wait five minutes at its worker.
    server = await startFakeAnthropicServer({ rateLimits: { requestsPerMinute: 2, minuteMs: 600_000 } });
    await sandbox.writeConfig(daemonConfig(redis.url));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    await worker(KEY, 1);
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(3) });
    const paused = await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.status === 'paused' ? view : undefined;
    }, 30_000);
    expect(paused.pauseReason).toBe('quota');
    const wait = Date.parse(paused.resumeAt!) - Date.now();
    expect(wait).toBeGreaterThan(4 * 60_000);
    expect(wait).toBeLessThanOrEqual(5 * 60_000 + 1_000);
    expect(paused.pauseMessage).toContain('at its worker');
    expect((await sandbox.orc(['ls'])).stdout).toMatch(/waiting for quota until \d\d:\d\d/);
    // Nothing was refused: the worker waits instead of asking.
    expect(server.log).toHaveLength(2);
    expect(server.statusCounts[429]).toBeUndefined();
  }, 60_000);

  it('never holds the workers of one key for another key’s limit', async () => {
    // Two requests a minute per key: a key's third call would wait half a minute.
    server = await startFakeAnthropicServer({
      rateLimits: { requestsPerMinute: 2, minuteMs: 60_000 },
      latencyMs: 500,
    });
    await sandbox.writeConfig(daemonConfig(redis.url));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    await worker('sk-ant-test-key-one', 2);
    await worker('sk-ant-test-key-two', 2);
    const started = Date.now();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(4) });
    const events = await eventsUntilEnd(client, run.id);
    expect(events.at(-1)?.type).toBe('run.completed');
    // Four calls in far less than the half minute one key would have waited for two of them.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(server.statusCounts[429]).toBeUndefined();
    const byKey = new Map<string, number>();
    for (const record of server.log) byKey.set(record.apiKey, (byKey.get(record.apiKey) ?? 0) + 1);
    expect([...byKey.values()]).toEqual([2, 2]);
  }, 90_000);
});
