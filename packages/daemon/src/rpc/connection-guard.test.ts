import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPC_LIMITS, statePaths } from '@orc/shared';
import { TRPCClientError } from '@trpc/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type OrcClient } from '../client/index.js';
import { writeDaemonInfo } from '../daemon/daemon-info.js';
import {
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_MANY_CALLS,
  CLOSE_UNAUTHORIZED,
} from './close-codes.js';
import type { ConnectionLimits } from './connection-guard.js';
import type { ModelProvider } from '../model/provider.js';
import {
  countingOrchestrator,
  createScriptedProvider,
  floodingProvider,
  openTestEngine,
  type CountingOrchestrator,
  type TestEngine,
} from '@orc/test-support';
import { type RpcServer, startRpcServer } from './server.js';

const TOKEN = 'c'.repeat(64);
const KiB = 1024;

let home: string;
let engine: TestEngine | undefined;
let orchestrator: CountingOrchestrator;
let server: RpcServer | undefined;
let clients: OrcClient[];
let sockets: WebSocket[];
/** What the server logged when it closed a connection past a limit. */
let closes: { code: number; reason: string }[];

/**
 * The real engine on a temp home, served by the real server on a free port. Its model does not answer
 * (until the test ends) unless given one: runs stay as they were started.
 */
async function serve(limits: Partial<ConnectionLimits> = {}, provider?: ModelProvider) {
  const held = createScriptedProvider();
  held.hold();
  engine = await openTestEngine({ home, provider: provider ?? held });
  orchestrator = countingOrchestrator(engine.orchestrator);
  const logger = pino(
    { level: 'warn' },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg: string; code: number; reason: string };
        if (entry.msg === 'closed a connection past a limit')
          closes.push({ code: entry.code, reason: entry.reason });
      },
    },
  );
  server = await startRpcServer({
    orchestrator,
    token: TOKEN,
    logger,
    daemon: { pid: process.pid, version: 'test', startedAt: new Date().toISOString() },
    requestStop: () => undefined,
    limits,
  });
  writeDaemonInfo(statePaths(home), server.info);
  await writeFile(statePaths(home).token, `${TOKEN}\n`, { mode: 0o600 });
}

async function connect(): Promise<OrcClient> {
  const client = await createClient({ home, env: {} });
  clients.push(client);
  return client;
}

/** A hand-made tRPC client on a bare socket: it sends what it likes and reads only if asked to. */
async function rawClient() {
  const ws = new WebSocket(`ws://127.0.0.1:${server!.port}/?connectionParams=1`);
  sockets.push(ws);
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await once(ws, 'open');
  ws.send(JSON.stringify({ method: 'connectionParams', data: { token: TOKEN } }));
  return {
    ws,
    closed,
    /** Stops reading, so the kernel's buffers fill and the daemon's queue for this client grows. */
    stopReading: () => (ws as unknown as { _socket: Socket })._socket.pause(),
    resumeReading: () => (ws as unknown as { _socket: Socket })._socket.resume(),
  };
}

function call(id: number, path: string, input: unknown, method = 'query') {
  return { id, method, params: { path, input } };
}

/** A run whose view is about `mb` MiB, so that a few replies fill any socket buffer. */
async function bigRun(mb: number): Promise<string> {
  const tasks = Array.from({ length: mb * 64 }, (_, i) => ({
    id: `t${i}`,
    title: `task ${i}`,
    description: 'x'.repeat(16 * KiB),
  }));
  return (await orchestrator.startRun({ tasks })).id;
}

async function healthAnswers(): Promise<boolean> {
  const other = await connect();
  return (await other.trpc.daemon.health.query()).pid === process.pid;
}

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'orc-guard-'));
  clients = [];
  sockets = [];
  closes = [];
});

afterEach(async () => {
  for (const ws of sockets) ws.terminate();
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
  await engine?.close();
  engine = server = undefined;
  await rm(home, { recursive: true, force: true });
});

describe('connection guard', () => {
  it('closes a connection whose frame batches more calls than the limits, running none of them', async () => {
    await serve();
    const mutations = (n: number) =>
      Array.from({ length: n }, (_, i) => call(i + 1, 'runs.start', { goal: `g${i}` }, 'mutation'));
    const batch = await rawClient();
    batch.ws.send(JSON.stringify(mutations(RPC_LIMITS.callsPerMessage + 1)));
    expect(await batch.closed).toEqual({
      code: CLOSE_TOO_MANY_CALLS,
      reason: `${RPC_LIMITS.callsPerMessage + 1} calls in one message; the limit is ${RPC_LIMITS.callsPerMessage}`,
    });
    const inFlight = await rawClient();
    inFlight.ws.send(JSON.stringify(mutations(RPC_LIMITS.callsInFlight + 1)));
    expect(await inFlight.closed).toEqual({
      code: CLOSE_TOO_MANY_CALLS,
      reason: `${RPC_LIMITS.callsInFlight + 1} calls in flight; the limit is ${RPC_LIMITS.callsInFlight}`,
    });
    expect(orchestrator.listRuns()).toEqual([]);
    expect(await healthAnswers()).toBe(true);
  });

  it('lets a client with more subscriptions than calls in flight reconnect and resubscribe in one message', async () => {
    await serve();
    const runId = (await orchestrator.startRun({ goal: 'g' })).id;
    const client = await connect();
    const count = RPC_LIMITS.callsInFlight + 36;
    const seen = new Array<number>(count).fill(0);
    const subscriptions = seen.map((_, i) =>
      client.trpc.runs.events.subscribe({ runId }, { onData: () => seen[i]!++ }),
    );
    await expect.poll(() => Math.min(...seen)).toBeGreaterThan(0);
    client.dropConnection();
    await expect.poll(() => orchestrator.counts.subscriptions, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => orchestrator.counts.subscriptions, { timeout: 5_000 }).toBe(count);
    const before = [...seen];
    await orchestrator.createCheckpoint(runId, 'news for every subscriber');
    await expect.poll(() => seen.every((n, i) => n > before[i]!)).toBe(true);
    for (const subscription of subscriptions) subscription.unsubscribe();
    expect(closes).toEqual([]);
  });

  it('closes a connection that sends a frame over requestBytes with 1009, before parsing it', async () => {
    await serve({ requestBytes: 64 * KiB });
    const { ws, closed } = await rawClient();
    ws.send(JSON.stringify(call(1, 'runs.start', { goal: 'x'.repeat(100 * KiB) }, 'mutation')));
    expect((await closed).code).toBe(CLOSE_MESSAGE_TOO_BIG);
    expect(orchestrator.listRuns()).toEqual([]);
    expect(await healthAnswers()).toBe(true);
  });

  it('reads no large frame from a client before it has shown the token', async () => {
    await serve();
    const ws = new WebSocket(`ws://127.0.0.1:${server!.port}/?connectionParams=1`);
    sockets.push(ws);
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await once(ws, 'open');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: 'x'.repeat(100 * KiB) } }));
    expect(await closed).toEqual({
      code: CLOSE_UNAUTHORIZED,
      reason: 'a large message before the token; send the connection params first',
    });
    expect(await healthAnswers()).toBe(true);
  });

  it('runs the calls of a client that stops reading only as its socket drains, and closes it past callsInFlight', async () => {
    await serve({ pacedBytes: 64 * KiB, callsInFlight: 8 });
    const runId = await bigRun(8);
    const attacker = await rawClient();
    attacker.stopReading();
    attacker.ws.send(JSON.stringify(Array.from({ length: 8 }, (_, i) => call(i + 1, 'runs.get', { runId }))));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // 8 MiB replies: the kernel's buffers and the paced bound hold one or two; the rest wait their turn.
    expect(orchestrator.counts.views).toBeGreaterThanOrEqual(1);
    expect(orchestrator.counts.views).toBeLessThanOrEqual(3);
    expect(await healthAnswers()).toBe(true);

    attacker.ws.send(JSON.stringify(Array.from({ length: 8 }, (_, i) => call(i + 9, 'runs.get', { runId }))));
    await expect.poll(() => closes.length).toBe(1);
    expect(closes[0]).toMatchObject({
      code: CLOSE_TOO_MANY_CALLS,
      reason: expect.stringMatching(/^\d+ calls in flight; the limit is 8$/) as string,
    });
    // The waiting calls end with the connection; none of them runs.
    const ran = orchestrator.counts.views;
    attacker.resumeReading();
    await attacker.closed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(orchestrator.counts.views).toBe(ran);
    expect(await healthAnswers()).toBe(true);
  });

  it('answers a client that reads slowly, pacing rather than closing it', async () => {
    await serve({ pacedBytes: 64 * KiB });
    const runId = await bigRun(2);
    const client = await connect();
    const views = await Promise.all(Array.from({ length: 20 }, () => client.trpc.runs.get.query({ runId })));
    expect(views.map((view) => view.tasks.length)).toEqual(Array(20).fill(128));
    expect(closes).toEqual([]);
  });

  it('closes a connection past the subscription limit', async () => {
    await serve({ subscriptions: 2 });
    const runId = (await orchestrator.startRun({ goal: 'g' })).id;
    const { ws, closed } = await rawClient();
    for (let id = 1; id <= 3; id++)
      ws.send(JSON.stringify(call(id, 'runs.events', { runId }, 'subscription')));
    expect(await closed).toEqual({ code: CLOSE_TOO_MANY_CALLS, reason: '3 subscriptions; the limit is 2' });
  });

  it('counts a stopped subscription out, so a client may subscribe again', async () => {
    await serve({ subscriptions: 1 });
    const runId = (await orchestrator.startRun({ goal: 'g' })).id;
    const client = await connect();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const sub = client.trpc.runs.events.subscribe(
          { runId },
          {
            onData: () => {
              sub.unsubscribe();
              resolve();
            },
            onError: reject,
          },
        );
      });
      await expect.poll(() => orchestrator.counts.subscriptions).toBe(0);
    }
    expect(closes).toEqual([]);
  });

  it('closes a connection that reuses the id of a call in flight', async () => {
    await serve();
    const runId = (await orchestrator.startRun({ goal: 'g' })).id;
    const { ws, closed } = await rawClient();
    ws.send(JSON.stringify(call(7, 'runs.events', { runId }, 'subscription')));
    ws.send(JSON.stringify(call(7, 'runs.get', { runId })));
    expect(await closed).toEqual({ code: CLOSE_PROTOCOL_ERROR, reason: 'call id 7 is already in flight' });
  });

  it('answers a reply over replyBytes with PAYLOAD_TOO_LARGE naming the procedure, and goes on', async () => {
    await serve({ replyBytes: 256 * KiB });
    const runId = await bigRun(1);
    const client = await connect();
    const error = await client.trpc.runs.get.query({ runId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    const e = error as TRPCClientError<never>;
    expect(e.message).toMatch(
      /^runs\.get: the reply is 1\.\d MiB, over the limit of 256 KiB for one message; ask for less/,
    );
    expect(e.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', orcCode: 'LIMIT_EXCEEDED', path: 'runs.get' });
    expect((await client.trpc.runs.list.query()).length).toBe(1);
    expect(closes).toEqual([]);
  });

  it('holds a subscriber that stops reading where it is, and only it; it reads on once it reads again', async () => {
    // Its worker streams 64 KiB after 64 KiB: the subscriber's backlog passes the bound within the pause.
    await serve({ pacedBytes: 64 * KiB }, floodingProvider('x'.repeat(64 * KiB)));
    const runId = (await orchestrator.startRun({ goal: 'g' })).id;
    const stalled = await rawClient();
    let messages = 0;
    stalled.ws.on('message', () => messages++);
    stalled.ws.send(JSON.stringify(call(1, 'runs.events', { runId }, 'subscription')));
    await expect.poll(() => messages).toBeGreaterThan(1);
    stalled.stopReading();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await healthAnswers()).toBe(true);
    stalled.resumeReading();
    const before = messages;
    await expect.poll(() => messages, { timeout: 10_000 }).toBeGreaterThan(before);
    expect(closes).toEqual([]);
  });
});
