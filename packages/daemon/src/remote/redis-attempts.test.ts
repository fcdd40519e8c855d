import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, ZERO_USAGE } from '@orc/shared';
import { startTestRedis, type TestRedis } from '@orc/test-support';
import { Queue, Worker } from 'bullmq';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import type { ModelProvider, ModelRequest } from '../model/provider.js';
import { attemptJobId, type AttemptJob } from '../run/attempt-backend.js';
import { RedisAttempts } from './redis-attempts.js';
import { connectRedis } from './redis-connection.js';
import { startRemoteWorker, type RunningWorker } from './remote-worker.js';
import { TakeBacks } from './take-backs.js';

/**
 * The daemon's side and a worker's side of the Redis backend in one process, on a real redis-server,
 * with a provider the test drives: what crosses the wire and what comes back.
 */
let redis: TestRedis;
let attempts: RedisAttempts;
let worker: RunningWorker | undefined;
const logger = pino({ level: 'silent' });

/** A provider whose calls the test sees and ends. */
function heldProvider() {
  const calls: { request: ModelRequest; answer: (text: string) => void; fail: (error: Error) => void }[] = [];
  const provider: ModelProvider = {
    name: 'anthropic',
    complete: (request) =>
      new Promise((resolve, reject) => {
        request.signal.addEventListener('abort', () => reject(new CallCancelledError('aborted')), {
          once: true,
        });
        calls.push({
          request,
          answer: (text) => {
            request.onText?.(text);
            resolve({ text, usage: { ...ZERO_USAGE, outputTokens: 7 }, stopReason: 'end_turn' });
          },
          fail: reject,
        });
      }),
  };
  return { provider, calls };
}

async function startWorker(provider: ModelProvider): Promise<RunningWorker> {
  worker = await startRemoteWorker({
    target: { url: redis.url, tls: false },
    concurrency: 2,
    config: resolveConfig([], false),
    apiKey: 'the-worker-key',
    providers: () => provider,
    clock: systemClock,
    logger,
    say: () => {},
  });
  return worker;
}

function request(signal = new AbortController().signal, onText?: (text: string) => void): ModelRequest {
  return {
    purpose: 'work',
    model: 'claude-sonnet-5-5',
    system: 'sys',
    prompt: 'do task t1',
    maxTokens: 100,
    signal,
    ...(onText && { onText }),
  };
}

function job(taskId: string, attempt = 1, previous?: string): AttemptJob {
  return {
    id: attemptJobId('r1', taskId, attempt),
    runId: 'r1',
    taskId,
    attempt,
    provider: 'anthropic',
    timeoutMs: 60_000,
    ...(previous !== undefined && { previous }),
  };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function openAttempts(
  more: Partial<ConstructorParameters<typeof RedisAttempts>[0]> = {},
): Promise<RedisAttempts> {
  return new RedisAttempts({
    connection: await connectRedis({ url: redis.url, tls: false }, 5_000),
    url: redis.url,
    queue: 'orc-test',
    stallMs: 2_000,
    clock: systemClock,
    logger,
    pollMs: 200,
    ...more,
  });
}

beforeEach(async () => {
  redis = await startTestRedis();
  attempts = await openAttempts();
});

afterEach(async () => {
  await worker?.stop(true);
  worker = undefined;
  await attempts.close();
  await redis.stop();
});

describe('RedisAttempts with a worker', () => {
  it('sends the prompt, never a key, and brings back the answer and its text as it streams', async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const streamed: string[] = [];
    const answer = attempts.complete(
      job('t1'),
      request(undefined, (text) => streamed.push(text)),
    );
    await until(() => calls.length === 1);
    expect(calls[0]!.request.prompt).toBe('do task t1');
    calls[0]!.answer('done it');
    const response = await answer;
    expect(response.text).toBe('done it');
    expect(response.usage.outputTokens).toBe(7);
    expect(response.meta?.['worker']).toBe(worker!.id);
    await until(() => streamed.join('') === 'done it');
  });

  it('makes an attempt once however often it is asked: the job id is the attempt id', async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const first = attempts.complete(job('t1'), request());
    const second = attempts.complete(job('t1'), request());
    await until(() => calls.length === 1);
    calls[0]!.answer('once');
    expect((await first).text).toBe('once');
    expect((await second).text).toBe('once');
    expect(calls).toHaveLength(1);
  });

  it('stops the worker on a task taken back', async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const controller = new AbortController();
    const answer = attempts.complete(job('t1'), request(controller.signal));
    await until(() => calls.length === 1);
    controller.abort();
    await expect(answer).rejects.toBeInstanceOf(CallCancelledError);
    await until(() => calls[0]!.request.signal.aborted);
  });

  it("brings a worker's model error back as one, with what steers the run", async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const answer = attempts.complete(job('t1'), request());
    await until(() => calls.length === 1);
    calls[0]!.fail(
      new ModelError('permanent', 'the key was refused', {
        status: 401,
        pauseRun: true,
        pauseReason: 'provider',
      }),
    );
    const error = await answer.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).message).toBe('the key was refused');
    expect((error as ModelError).details).toEqual({ status: 401, pauseRun: true, pauseReason: 'provider' });
  });

  it("takes a cut-off attempt's answer for the next attempt instead of making it again", async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const controller = new AbortController();
    attempts.detach(); // the daemon stops: the job is the worker's to finish
    const cut = attempts.complete(job('t1', 1), request(controller.signal));
    await until(() => calls.length === 1);
    controller.abort();
    await expect(cut).rejects.toBeInstanceOf(CallCancelledError);
    calls[0]!.answer('finished while the daemon was away');
    const next = await attempts.complete(job('t1', 2, attemptJobId('r1', 't1', 1)), request());
    expect(next.text).toBe('finished while the daemon was away');
    expect(calls).toHaveLength(1);
  });

  it('lists the worker and what it runs', async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    void attempts.complete(job('t9'), request()).catch(() => undefined);
    await until(() => calls.length === 1);
    let status = await attempts.status();
    const deadline = Date.now() + 10_000;
    while (status.workers[0]?.running.length !== 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await attempts.status();
    }
    expect(status.queue).toBe('orc-test');
    expect(status.workers).toHaveLength(1);
    expect(status.workers[0]!.running).toEqual([
      expect.objectContaining({ runId: 'r1', taskId: 't9', attempt: 1 }),
    ]);
    calls[0]!.answer('ok');
  });
});

describe('an attempt given up on while Redis is away', () => {
  /**
   * A server that keeps its keys across the outage, and locks that outlast it: the job is still the
   * worker's when Redis is back, so only the daemon's word can stop it.
   */
  async function keepingRedis(more: Partial<ConstructorParameters<typeof RedisAttempts>[0]> = {}) {
    await attempts.close();
    await redis.stop();
    redis = await startTestRedis({ persistence: true });
    attempts = await openAttempts({ lostAfterMs: 500, stallMs: 30_000, ...more });
  }

  it('is stopped at its worker once Redis is back', async () => {
    await keepingRedis();
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const answer = attempts.complete(job('t3'), request());
    await until(() => calls.length === 1);
    await redis.kill();
    // The run pauses for Redis and gives the attempt up; its next attempt is a job of its own.
    await expect(answer).rejects.toMatchObject({ details: { pauseReason: 'backend' } });
    expect(calls[0]!.request.signal.aborted).toBe(false);
    await redis.restart();
    // Without the word, the worker would make (and pay for) the answer nobody waits for.
    await until(() => calls[0]!.request.signal.aborted);
  }, 30_000);

  it('is stopped by the next daemon when the one that gave it up stopped before Redis came back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orc-take-backs-'));
    try {
      const file = join(dir, 'take-backs.json');
      await keepingRedis({ takeBacks: new TakeBacks(file) });
      const { provider, calls } = heldProvider();
      await startWorker(provider);
      const answer = attempts.complete(job('t3'), request());
      await until(() => calls.length === 1);
      await redis.kill();
      await expect(answer).rejects.toMatchObject({ details: { pauseReason: 'backend' } });
      await attempts.close();
      await redis.restart();
      attempts = await openAttempts({ stallMs: 30_000, takeBacks: new TakeBacks(file) });
      await until(() => calls[0]!.request.signal.aborted);
      // Sent, so not kept.
      await until(() => new TakeBacks(file).ids.length === 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('an attempt Redis lost in flight (restarted empty)', () => {
  it('stops at the worker that held it, and is made once more, not twice', async () => {
    const { provider, calls } = heldProvider();
    await startWorker(provider);
    const answer = attempts.complete(job('t5'), request());
    await until(() => calls.length === 1);
    // Back before the daemon gives it up: the daemon adds the job again, and a worker takes it anew.
    await redis.restart({ downMs: 300 });
    await until(() => calls.length === 2);
    // The first, whose answer Redis would refuse, is not paid for to the end beside it.
    await until(() => calls[0]!.request.signal.aborted);
    expect(calls[1]!.request.signal.aborted).toBe(false);
    calls[1]!.answer('made once more');
    expect((await answer).text).toBe('made once more');
  }, 30_000);
});

describe('an attempt taken back while a cut-off worker still holds its lock', () => {
  it('is never started by the worker it is handed to', async () => {
    const connection = await connectRedis({ url: redis.url, tls: false }, 5_000);
    // A worker that took the job and was cut off: its lock lasts a second more, unrenewed.
    const cut = new Worker('orc-test', null, { connection, prefix: 'orc', lockDuration: 1_000 });
    const queue = new Queue('orc-test', { connection, prefix: 'orc' });
    try {
      const controller = new AbortController();
      const answer = attempts.complete(job('t4'), request(controller.signal));
      const id = attemptJobId('r1', 't4', 1);
      let taken: unknown;
      const deadline = Date.now() + 10_000;
      while (!taken && Date.now() < deadline) taken = await cut.getNextJob('cut-off-token');
      expect(taken).toBeTruthy();
      controller.abort();
      await expect(answer).rejects.toBeInstanceOf(CallCancelledError);
      // Still locked, so it stays; once the lock is stale, BullMQ hands it to the next worker.
      const { provider, calls } = heldProvider();
      await startWorker(provider);
      let state = await queue.getJobState(id);
      const ended = Date.now() + 15_000;
      while (state !== 'completed' && state !== 'unknown' && Date.now() < ended) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        state = await queue.getJobState(id);
      }
      expect(['completed', 'unknown']).toContain(state);
      expect(calls).toHaveLength(0);
    } finally {
      await cut.close(true);
      await queue.close();
      connection.disconnect();
    }
  }, 30_000);
});

describe('attemptJobId', () => {
  it('never holds a colon or is all digits, and tells attempts apart', () => {
    expect(attemptJobId('r1', '3.2', 1)).toBe('r1.3%2E2.1');
    expect(attemptJobId('r1', 'a:b', 2)).toBe('r1.a%3Ab.2');
    expect(attemptJobId('r1', '3', 1)).not.toBe(attemptJobId('r1', '3', 2));
  });
});
