import { startTestRedis, type TestRedis } from '@orc/test-support';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelRequest } from '../model/provider.js';
import type { ToolCall, ToolDecision } from '../model/tool-permissions.js';
import type { AttemptProgress } from './attempt-wire.js';
import { connectRedis, quiet } from './redis-connection.js';
import { DaemonAsks, WorkerAsks } from './remote-permissions.js';

/**
 * A remote agent's permission ask, both halves on a real redis-server: the worker's ask reaches the
 * daemon as progress (here handed over directly), is decided once however often it is told, and the
 * answer comes back on the answers channel to the agent that waits for it.
 */
let redis: TestRedis;
const connections: Redis[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.disconnect();
  await redis.stop();
});

async function connect(): Promise<Redis> {
  const connection = quiet(await connectRedis({ url: redis.url, tls: false }, 5_000));
  connections.push(connection);
  return connection;
}

const call: ToolCall = {
  id: 'toolu_1',
  tool: 'Bash',
  input: { command: 'make' },
  workdir: '/w',
  reason: 'asks',
};

describe('remote permission asks', () => {
  it('are decided once however often they are told, and the answer reaches the waiting agent', async () => {
    const daemon = new DaemonAsks(await connect(), 'q1');
    const worker = new WorkerAsks('q1');
    const subscriber = await connect();
    await subscriber.subscribe(worker.channel);
    let published = 0;
    subscriber.on('message', (_channel: string, message: string) => {
      published += 1;
      worker.answered(message);
    });

    const decided: ToolCall[] = [];
    let answer: (decision: ToolDecision) => void = () => {};
    const request: ModelRequest = {
      purpose: 'work',
      model: 'm',
      system: 's',
      prompt: 'p',
      maxTokens: 1,
      signal: new AbortController().signal,
      permissions: {
        decide: (asked) => {
          decided.push(asked);
          return new Promise<ToolDecision>((resolve) => (answer = resolve));
        },
      },
    };
    // The worker's progress, delivered to the daemon (twice: a repeat of the same ask).
    const tell = (progress: AttemptProgress) => {
      if (progress.kind === 'ask') daemon.ask('r1.t1.1', progress.ask, request);
    };
    const permissions = worker.permissionsFor('r1.t1.1', (progress) => {
      tell(progress);
      tell(progress);
    });
    const waiting = permissions.decide(call, new AbortController().signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(decided).toEqual([call]);
    answer({ allow: true, forSession: true });
    expect(await waiting).toEqual({ allow: true, forSession: true });
    // Told twice while it waited, the answer went out once; told again once answered (a worker that
    // missed it), it goes again.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(published).toBe(1);
    daemon.ask('r1.t1.1', { ...call, id: call.id! }, request);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([published, decided.length]).toEqual([2, 1]);
  });

  it('an attempt that ends stops the wait with a refusal', async () => {
    const worker = new WorkerAsks('q1');
    const ended = new AbortController();
    const waiting = worker.permissionsFor('r1.t1.1', () => {}).decide(call, ended.signal);
    ended.abort();
    expect(await waiting).toMatchObject({ allow: false, reason: 'the attempt ended first' });
  });
});
