import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPC_LIMITS, statePaths } from '@orc/shared';
import { TRPCClientError } from '@trpc/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { writeDaemonInfo } from '../daemon/daemon-info.js';
import type { ConnectionLimits } from '../rpc/connection-guard.js';
import { createScriptedProvider, openTestEngine, type TestEngine } from '@orc/test-support';
import { type RpcServer, startRpcServer } from '../rpc/server.js';
import { createClient, type OrcClient } from './create-client.js';

const TOKEN = 'd'.repeat(64);
const KiB = 1024;
const MiB = 1024 * KiB;

let home: string;
let engine: TestEngine | undefined;
let server: RpcServer | undefined;
let clients: OrcClient[];

/** The real engine on a temp home, its model holding every call: runs stay as they were started. */
async function serve(limits: Partial<ConnectionLimits> = {}) {
  const held = createScriptedProvider();
  held.hold();
  engine = await openTestEngine({ home, provider: held });
  server = await startRpcServer({
    orchestrator: engine.orchestrator,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    daemon: { pid: process.pid, version: 'test', startedAt: new Date().toISOString() },
    requestStop: () => undefined,
    limits,
  });
  await advertise(server.port);
}

async function advertise(port: number) {
  writeDaemonInfo(statePaths(home), {
    pid: process.pid,
    port,
    version: 'test',
    startedAt: new Date().toISOString(),
  });
  await writeFile(statePaths(home).token, `${TOKEN}\n`, { mode: 0o600 });
}

async function connect(): Promise<OrcClient> {
  const client = await createClient({ home, env: {} });
  clients.push(client);
  return client;
}

function failure(error: unknown) {
  expect(error).toBeInstanceOf(TRPCClientError);
  const e = error as TRPCClientError<never>;
  const data = e.data as { code?: string; orcCode?: string } | undefined;
  return { message: e.message, code: data?.code, orcCode: data?.orcCode };
}

/** Tasks whose JSON is about `mb` MiB. */
function tasksOf(mb: number) {
  return Array.from({ length: mb * 64 }, (_, i) => ({
    id: `t${i}`,
    title: `task ${i}`,
    description: 'x'.repeat(16 * KiB),
  }));
}

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'orc-limits-link-'));
  clients = [];
  server = undefined;
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
  await engine?.close();
  engine = undefined;
  await rm(home, { recursive: true, force: true });
});

describe('limits link', () => {
  it('lets a script make 1,000 calls at once: past callsInFlight they wait in the client', async () => {
    await serve();
    const client = await connect();
    const run = await client.trpc.runs.start.mutate({ goal: 'g' });
    const views = await Promise.all(
      Array.from({ length: 1_000 }, () => client.trpc.runs.get.query({ runId: run.id })),
    );
    expect(views.every((view) => view.id === run.id)).toBe(true);
    expect(RPC_LIMITS.callsInFlight).toBeLessThan(1_000);
  });

  it('refuses a request over requestBytes before sending it, and the connection goes on', async () => {
    await serve();
    const client = await connect();
    const error = await client.trpc.runs.start
      .mutate({ goal: 'x'.repeat(RPC_LIMITS.requestBytes) })
      .catch((e: unknown) => e);
    expect(failure(error)).toEqual({
      message: `runs.start: the request is 40.0 MiB, over the limit of 40 MiB for one message to the daemon`,
      code: 'PAYLOAD_TOO_LARGE',
      orcCode: 'LIMIT_EXCEEDED',
    });
    expect(engine!.orchestrator.listRuns()).toEqual([]);
    expect((await client.trpc.daemon.health.query()).pid).toBe(process.pid);
  });

  it('sends two large calls made in the same tick as two frames, each within requestBytes', async () => {
    await serve({ requestBytes: 3 * MiB });
    const client = await connect();
    const [a, b] = await Promise.all([
      client.trpc.runs.start.mutate({ tasks: tasksOf(2) }),
      client.trpc.runs.start.mutate({ tasks: tasksOf(2) }),
    ]);
    expect([a.taskTotal, b.taskTotal]).toEqual([128, 128]);
  });

  it('fails the calls of a connection the daemon closed past a limit with the reason, not "Unknown error"', async () => {
    await serve({ callsInFlight: 4 });
    const client = await connect();
    const errors = await Promise.all(
      Array.from({ length: 10 }, () => client.trpc.runs.list.query().catch((e: unknown) => e)),
    );
    for (const error of errors) {
      expect(failure(error)).toEqual({
        message: 'runs.list: the daemon closed the connection (4429): 10 calls in flight; the limit is 4',
        code: 'TOO_MANY_REQUESTS',
        orcCode: 'LIMIT_EXCEEDED',
      });
    }
  });

  it('fails a call whose reply is over what the client accepts with one line saying so', async () => {
    // A stand-in daemon: ours never sends a message over RPC_LIMITS.replyBytes (it answers with an error
    // instead), so only a hand-written server can show the client's own bound.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { id?: number; params?: { path?: string } };
        if (message.id === undefined) return; // connection params
        if (message.params?.path === 'daemon.health') {
          ws.send(JSON.stringify({ id: message.id, result: { type: 'data', data: { pid: process.pid } } }));
        } else {
          ws.send(Buffer.alloc(RPC_LIMITS.replyBytes + 1, 0x20));
        }
      });
    });
    await new Promise((resolve) => wss.once('listening', resolve));
    try {
      await advertise((wss.address() as AddressInfo).port);
      const client = await connect();
      const error = await client.trpc.runs.list.query().catch((e: unknown) => e);
      expect(failure(error)).toEqual({
        message:
          'runs.list: a message from the daemon was over the 128 MiB this client accepts (1009); ask for less',
        code: 'PAYLOAD_TOO_LARGE',
        orcCode: 'LIMIT_EXCEEDED',
      });
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
