import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS, type OrcEvent, OrcError, statePaths } from '@orc/shared';
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type OrcClient } from '../client/index.js';
import { writeDaemonInfo } from '../daemon/daemon-info.js';
import type { ModelProvider } from '../model/provider.js';
import type { AppRouter } from './app.router.js';
import { CLOSE_DAEMON_STOPPED, CLOSE_UNAUTHORIZED } from './close-codes.js';
import type { ConnectionLimits } from './connection-guard.js';
import {
  countingOrchestrator,
  createScriptedProvider,
  floodingProvider,
  openTestEngine,
  readJournal,
  type CountingOrchestrator,
  type TestEngine,
} from '@orc/test-support';
import { type RpcServer, startRpcServer } from './server.js';

const TOKEN = 'a'.repeat(64);
let home: string;
let engine: TestEngine | undefined;
let orchestrator: CountingOrchestrator;
let server: RpcServer | undefined;
let clients: OrcClient[];
let stops: number;

/** The real engine on a temp home (the model scripted), served by the real server on a free port. */
async function serve(options: { limits?: Partial<ConnectionLimits>; provider?: ModelProvider } = {}) {
  engine = await openTestEngine({
    home,
    provider: options.provider ?? createScriptedProvider({ latencyMs: 5 }),
    config: { execution: { max_workers: 2 } },
  });
  orchestrator = countingOrchestrator(engine.orchestrator);
  server = await startRpcServer({
    orchestrator,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    daemon: { pid: process.pid, version: 'test', startedAt: new Date().toISOString() },
    requestStop: () => stops++,
    ...(options.limits !== undefined && { limits: options.limits }),
  });
  writeDaemonInfo(statePaths(home), server.info);
  await writeFile(statePaths(home).token, `${TOKEN}\n`, { mode: 0o600 });
}

async function connect(): Promise<OrcClient> {
  const client = await createClient({ home, env: {} });
  clients.push(client);
  return client;
}

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'orc-rpc-'));
  clients = [];
  stops = 0;
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
  await engine?.close();
  engine = server = undefined;
  await rm(home, { recursive: true, force: true });
});

function trpcError(error: unknown) {
  expect(error).toBeInstanceOf(TRPCClientError);
  const e = error as TRPCClientError<AppRouter>;
  return { code: e.data?.code, orcCode: e.data?.orcCode, message: e.message };
}

describe('rpc server', () => {
  it('answers daemon.health with the token and asks the daemon to stop on daemon.stop', async () => {
    await serve();
    const client = await connect();
    const health = await client.trpc.daemon.health.query();
    expect(health).toMatchObject({ pid: process.pid, port: server!.port, version: 'test', runs: 0 });
    await client.trpc.daemon.stop.mutate();
    expect(stops).toBe(1);
  });

  it('tells every client the daemon was stopped on purpose, and nothing of the kind when it crashed', async () => {
    const closesOf = async (stopped: boolean) => {
      await serve();
      const codes: (number | undefined)[] = [];
      for (let i = 0; i < 2; i++) {
        const client = await createClient({ home, env: {}, onDisconnect: ({ code }) => codes.push(code) });
        clients.push(client);
        await client.trpc.daemon.health.query();
      }
      await server!.close({ stopped });
      await engine!.close();
      engine = server = undefined;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return codes;
    };
    // Each client hears the stop first; its reconnects after are refused and say nothing of it.
    const onStop = await closesOf(true);
    expect(onStop.slice(0, 2)).toEqual([CLOSE_DAEMON_STOPPED, CLOSE_DAEMON_STOPPED]);
    expect(onStop.filter((code) => code === CLOSE_DAEMON_STOPPED)).toHaveLength(2);
    const onCrash = await closesOf(false);
    expect(onCrash.length).toBeGreaterThanOrEqual(2);
    expect(onCrash).not.toContain(CLOSE_DAEMON_STOPPED);
  });

  it('refuses a connection without a token, says UNAUTHORIZED, closes it, and the client stops retrying', async () => {
    await serve();
    const closes: (number | undefined)[] = [];
    const wsClient = createWSClient({
      url: `ws://127.0.0.1:${server!.port}`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      retryDelayMs: () => 20,
      onClose: (cause) => {
        closes.push(cause?.code);
        if (cause?.code === CLOSE_UNAUTHORIZED) void wsClient.close();
      },
    });
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
    const error = await trpc.daemon.health.query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(closes).toEqual([CLOSE_UNAUTHORIZED]);
    await wsClient.close();
  });

  it('tells a client without a token UNAUTHORIZED on the wire before closing with the refusal code', async () => {
    await serve();
    const ws = new WebSocket(`ws://127.0.0.1:${server!.port}`);
    const messages: unknown[] = [];
    ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString())));
    const code = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(code).toBe(CLOSE_UNAUTHORIZED);
    expect(messages).toEqual([
      {
        id: null,
        error: expect.objectContaining({
          message: expect.stringContaining('missing or wrong token') as string,
          data: expect.objectContaining({ code: 'UNAUTHORIZED', orcCode: 'UNAUTHORIZED' }) as object,
        }) as object,
      },
    ]);
  });

  it('refuses a wrong token: createClient throws UNAUTHORIZED and does not reconnect', async () => {
    await serve();
    await writeFile(statePaths(home).token, 'b'.repeat(64));
    const disconnects: boolean[] = [];
    const error = await createClient({
      home,
      env: {},
      onDisconnect: (r) => disconnects.push(r.refused),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrcError);
    expect((error as OrcError).code).toBe('UNAUTHORIZED');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(disconnects).toEqual([true]);
    expect(orchestrator.listRuns()).toEqual([]);
  });

  it('refuses a WebSocket upgrade that carries a browser Origin with 403', async () => {
    await serve();
    const status = await new Promise<number | undefined>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server!.port}`, {
        headers: { origin: 'http://evil.example' },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });

  it('turns input that fails validation into BAD_REQUEST with a readable message, changing nothing', async () => {
    await serve();
    const client = await connect();
    const empty = await client.trpc.runs.get.query({ runId: '' }).catch((e: unknown) => e);
    expect(trpcError(empty)).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'invalid input: runId: a run id is required',
    });
    const noGoal = await client.trpc.runs.start.mutate({}).catch((e: unknown) => e);
    expect(trpcError(noGoal)).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/^invalid input: give .*a goal.* task list/) as string,
    });
    const badConfig = await client.trpc.runs.start
      .mutate({ goal: 'x', config: { execution: { max_workers: -1 } } })
      .catch((e: unknown) => e);
    expect(trpcError(badConfig).code).toBe('BAD_REQUEST');
    expect(trpcError(badConfig).message).toMatch(/^invalid input: config\.execution\.max_workers: /);
    expect(await client.trpc.runs.list.query()).toEqual([]);
  });

  it('refuses input over a limit with BAD_REQUEST and LIMIT_EXCEEDED naming the limit, changing nothing', async () => {
    await serve();
    const client = await connect();
    const refusal = async (input: Parameters<typeof client.trpc.runs.start.mutate>[0]) => {
      const error = await client.trpc.runs.start.mutate(input).catch((e: unknown) => e);
      return trpcError(error);
    };
    expect(await refusal({ goal: 'g'.repeat(LIMITS.goalChars + 1) })).toEqual({
      code: 'BAD_REQUEST',
      orcCode: 'LIMIT_EXCEEDED',
      message: 'invalid input: goal: 100,001 characters, over the limit of 100,000',
    });
    const many = Array.from({ length: LIMITS.tasks + 1 }, (_, i) => ({ id: `t${i}`, title: 't' }));
    expect(await refusal({ tasks: many })).toEqual({
      code: 'BAD_REQUEST',
      orcCode: 'LIMIT_EXCEEDED',
      message: 'invalid input: tasks: 100,001 tasks, over the limit of 100,000',
    });
    const long = [
      { id: 'a', title: 'ok' },
      { id: 'b', title: 't'.repeat(LIMITS.titleChars + 1) },
    ];
    expect(await refusal({ tasks: long })).toEqual({
      code: 'BAD_REQUEST',
      orcCode: 'LIMIT_EXCEEDED',
      message: 'invalid input: tasks.1.title: 501 characters, over the limit of 500',
    });
    expect(await client.trpc.runs.list.query()).toEqual([]);
  });

  it('says so for an unknown run (NOT_FOUND, RUN_NOT_FOUND) and maps INVALID_STATE to CONFLICT', async () => {
    await serve();
    const client = await connect();
    const missing = await client.trpc.runs.get.query({ runId: 'nope' }).catch((e: unknown) => e);
    expect(trpcError(missing)).toMatchObject({
      code: 'NOT_FOUND',
      orcCode: 'RUN_NOT_FOUND',
      message: 'no run "nope"; orc ls lists the runs',
    });
    const events = await new Promise<unknown>((resolve) => {
      client.trpc.runs.events.subscribe(
        { runId: 'nope' },
        { onError: resolve, onData: () => resolve('data') },
      );
    });
    expect(trpcError(events)).toMatchObject({ code: 'NOT_FOUND', orcCode: 'RUN_NOT_FOUND' });
    const run = await client.trpc.runs.start.mutate({ goal: 'g' });
    await client.trpc.runs.cancel.mutate({ runId: run.id });
    const conflict = await client.trpc.runs.pause.mutate({ runId: run.id }).catch((e: unknown) => e);
    expect(trpcError(conflict)).toMatchObject({ code: 'CONFLICT', orcCode: 'INVALID_STATE' });
  });

  it('streams tracked events; after a dropped socket the client resumes with lastEventId, no gap, no duplicate', async () => {
    await serve({ provider: createScriptedProvider({ latencyMs: 15 }) });
    const client = await connect();
    const run = await client.trpc.runs.start.mutate({
      tasks: Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, title: `t${i}` })),
    });
    const seen: OrcEvent[] = [];
    let dropped = false;
    await new Promise<void>((resolve, reject) => {
      const sub = client.trpc.runs.events.subscribe(
        { runId: run.id },
        {
          onData: ({ id, data }) => {
            expect(id).toBe(String(data.id));
            seen.push(data);
            if (!dropped && seen.length === 5) {
              dropped = true;
              client.dropConnection();
            }
            if (data.type === 'run.completed') {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    expect(dropped).toBe(true);
    const journal = await readJournal(home, run.id);
    expect(seen.map((e) => e.id)).toEqual(
      journal.slice(0, journal.findIndex((e) => e.type === 'run.completed') + 1).map((e) => e.id),
    );
  });

  it('resumes a new subscription after the lastEventId it is given', async () => {
    await serve();
    const client = await connect();
    const run = await client.trpc.runs.start.mutate({ goal: 'g' });
    await orchestrator.waitForRun(run.id);
    const ids: number[] = [];
    await new Promise<void>((resolve) => {
      const sub = client.trpc.runs.events.subscribe(
        { runId: run.id, lastEventId: '3' },
        {
          onData: ({ data }) => {
            ids.push(data.id);
            if (data.type === 'run.completed') {
              sub.unsubscribe();
              resolve();
            }
          },
        },
      );
    });
    const journal = await readJournal(home, run.id);
    expect(ids).toEqual(
      journal.slice(3, journal.findIndex((e) => e.type === 'run.completed') + 1).map((e) => e.id),
    );
  });

  it('holds a subscriber that stops reading where it is once too much is queued for it', async () => {
    // Its worker streams 64 KiB after 64 KiB until it is cut off.
    await serve({ limits: { pacedBytes: 64 * 1024 }, provider: floodingProvider('x'.repeat(64 * 1024)) });
    const run = await orchestrator.startRun({ goal: 'g' });
    const ws = new WebSocket(`ws://127.0.0.1:${server!.port}/?connectionParams=1`);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: TOKEN } }));
    ws.send(
      JSON.stringify({
        id: 1,
        method: 'subscription',
        params: { path: 'runs.events', input: { runId: run.id } },
      }),
    );
    await new Promise((resolve) => ws.once('message', resolve));
    // The client stops reading; the daemon keeps producing.
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Paced, not buffered for: the run goes on producing what its subscription waits to take.
    const delivered = orchestrator.counts.delivered;
    await expect.poll(async () => (await readJournal(home, run.id)).length).toBeGreaterThan(delivered + 2);
    expect(orchestrator.counts.delivered).toBe(delivered);
    expect(orchestrator.counts.subscriptions).toBe(1);
    socket.resume();
    await expect.poll(() => orchestrator.counts.delivered, { timeout: 10_000 }).toBeGreaterThan(delivered);
    ws.terminate();
  });
});
