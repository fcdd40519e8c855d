import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OrcEvent, statePaths } from '@orc/shared';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  createScriptedProvider,
  floodingProvider,
  openTestEngine,
  readJournal,
  type TestEngine,
} from '@orc/test-support';
import { createClient, type OrcClient } from '../client/index.js';
import { writeDaemonInfo } from '../daemon/daemon-info.js';
import type { ModelProvider } from '../model/provider.js';
import type { ConnectionLimits } from './connection-guard.js';
import { type RpcServer, startRpcServer } from './server.js';

const TOKEN = 'b'.repeat(64);
const KiB = 1024;
const MiB = 1024 * KiB;

let home: string;
let engine: TestEngine | undefined;
let server: RpcServer | undefined;
let clients: OrcClient[];
let sockets: WebSocket[];
let closes: { code: number; reason: string }[];

/** The real engine on a temp home, served by the real server on a free port. */
async function serve(options: { provider?: ModelProvider; limits?: Partial<ConnectionLimits> } = {}) {
  engine = await openTestEngine({
    home,
    provider: options.provider ?? createScriptedProvider({ latencyMs: 5 }),
    config: { execution: { max_workers: 8 } },
  });
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
    orchestrator: engine.orchestrator,
    token: TOKEN,
    logger,
    daemon: { pid: process.pid, version: 'test', startedAt: new Date().toISOString() },
    requestStop: () => undefined,
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

interface Followed {
  batches: OrcEvent[][];
  /** Every tracked id, in order: the id a reconnect resumes after. */
  trackedIds: string[];
  /** Each batch's `committedAt` (live batches have one, replayed ones none). */
  committedAt: (number | undefined)[];
  done: Promise<void>;
}

/**
 * Follows a run's batches from `lastEventId` until its `run.completed`; `onBatch` sees each batch as it
 * comes (and may drop the connection).
 */
function follow(
  client: OrcClient,
  runId: string,
  lastEventId: number | null,
  onBatch: (batch: OrcEvent[]) => void = () => undefined,
): Followed {
  const followed: Followed = { batches: [], trackedIds: [], committedAt: [], done: Promise.resolve() };
  followed.done = new Promise<void>((resolve, reject) => {
    const sub = client.trpc.runs.eventBatches.subscribe(
      { runId, lastEventId: lastEventId === null ? null : String(lastEventId) },
      {
        onData: ({ id, data }) => {
          followed.trackedIds.push(id);
          followed.batches.push(data.events);
          followed.committedAt.push(data.committedAt);
          onBatch(data.events);
          if (data.events.some((e) => e.type === 'run.completed')) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: reject,
      },
    );
  });
  return followed;
}

const ids = (followed: Followed) => followed.batches.flat().map((e) => e.id);

/**
 * What a subscriber received from `afterId` is the journal from there, every event once, in order,
 * through the batch that told of the run's completion.
 */
async function expectJournal(followed: Followed, runId: string, afterId = 0): Promise<void> {
  const journal = (await readJournal(home, runId)).map((e) => e.id).filter((id) => id > afterId);
  const received = ids(followed);
  expect(received).toEqual(journal.slice(0, received.length));
  expect(followed.batches.at(-1)!.some((e) => e.type === 'run.completed')).toBe(true);
}
/**
 * A subscriber on a bare WebSocket from the run's first event, whose socket a test can pause (a client
 * busy elsewhere): the ids of the events it received, in order.
 */
async function rawSubscriber(path: 'runs.events' | 'runs.eventBatches', runId: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${server!.port}/?connectionParams=1`);
  sockets.push(ws);
  ws.on('error', () => undefined);
  await once(ws, 'open');
  ws.send(JSON.stringify({ method: 'connectionParams', data: { token: TOKEN } }));
  const subscriber = {
    ids: [] as number[],
    closed: false,
    socket: (ws as unknown as { _socket: Socket })._socket,
  };
  ws.on('close', () => (subscriber.closed = true));
  ws.on('message', (data: Buffer) => {
    // tRPC's tracked message: `{ id, data }`, the data an event or a batch of them.
    const message = JSON.parse(data.toString()) as { result?: { type?: string; data?: { data: unknown } } };
    if (message.result?.type !== 'data') return;
    const payload = message.result.data!.data as OrcEvent | { events: OrcEvent[] };
    for (const event of 'events' in payload ? payload.events : [payload]) subscriber.ids.push(event.id);
  });
  ws.send(JSON.stringify({ id: 1, method: 'subscription', params: { path, input: { runId } } }));
  return subscriber;
}

const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, title: `task ${i}` }));

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'orc-batches-'));
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

describe('runs.eventBatches', () => {
  it('gives several subscribers every event once, in order, a group commit a message, tracked by its last id', async () => {
    await serve();
    const subscribers = await Promise.all([connect(), connect(), connect()]);
    const run = await subscribers[0].trpc.runs.start.mutate({ tasks: tasks(40) });
    const followed = subscribers.map((client) => follow(client, run.id, null));
    await Promise.all(followed.map((f) => f.done));
    for (const f of followed) {
      await expectJournal(f, run.id);
      expect(f.trackedIds).toEqual(f.batches.map((batch) => String(batch.at(-1)!.id)));
      // Eight workers finish tasks together: their events are made durable, and sent, together.
      expect(Math.max(...f.batches.map((batch) => batch.length))).toBeGreaterThan(1);
      expect(f.batches.length).toBeLessThan(ids(f).length);
      // A live batch says when it was made durable: after its events were emitted.
      f.batches.forEach((batch, i) => {
        const committedAt = f.committedAt[i];
        if (committedAt !== undefined)
          expect(committedAt).toBeGreaterThanOrEqual(Date.parse(batch.at(-1)!.at));
      });
      expect(f.committedAt.filter((at) => at !== undefined).length).toBeGreaterThan(0);
    }
  });

  it('resumes from a lastEventId in the middle of a batch, live and afterwards, with no gap and no duplicate', async () => {
    await serve();
    const client = await connect();
    const late = await connect();
    const run = await client.trpc.runs.start.mutate({ tasks: tasks(40) });
    let middle: number | undefined;
    let joined: Followed | undefined;
    const first = follow(client, run.id, null, (batch) => {
      // A later subscriber joins while the run goes on, from inside a batch it has not seen the end of.
      if (middle !== undefined || batch.length < 3 || batch.at(-1)!.type === 'run.completed') return;
      middle = batch[1]!.id;
      joined = follow(late, run.id, middle);
    });
    await first.done;
    expect(middle).toBeDefined();
    await joined!.done;
    expect(joined!.batches[0]![0]!.id).toBe(middle! + 1);
    await expectJournal(joined!, run.id, middle);
    // Once the run is over: replayed (a thousand at most a batch) from the same place.
    const after = follow(await connect(), run.id, middle!);
    await after.done;
    await expectJournal(after, run.id, middle);
    expect(after.committedAt.every((at) => at === undefined)).toBe(true);
  });

  it('resumes after the last batch it received when the socket drops', async () => {
    await serve({ provider: createScriptedProvider({ latencyMs: 15 }) });
    const client = await connect();
    const run = await client.trpc.runs.start.mutate({ tasks: tasks(30) });
    let drops = 0;
    const followed = follow(client, run.id, null, () => {
      if (followed.batches.length === 2 || followed.batches.length === 5) {
        drops++;
        client.dropConnection();
      }
    });
    await followed.done;
    expect(drops).toBe(2);
    await expectJournal(followed, run.id);
    // Back after each drop, it is owed what it missed: delivered live, late, not a replay.
    expect(followed.committedAt.slice(2).every((at) => at !== undefined)).toBe(true);
  });

  it("times the daemon's fan-out to the socket write: the wait behind a subscriber's backlog counts", async () => {
    // Its worker streams 64 KiB after 64 KiB: more than the kernel's socket buffers hold within the pause.
    await serve({ provider: floodingProvider('x'.repeat(64 * KiB)), limits: { pacedBytes: 512 * MiB } });
    const reader = await connect();
    const run = await reader.trpc.runs.start.mutate({ goal: 'g' });
    const ws = new WebSocket(`ws://127.0.0.1:${server!.port}/?connectionParams=1`);
    sockets.push(ws);
    ws.on('error', () => undefined);
    await once(ws, 'open');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: TOKEN } }));
    let batches = 0;
    ws.on('message', () => batches++);
    ws.send(
      JSON.stringify({
        id: 1,
        method: 'subscription',
        params: { path: 'runs.eventBatches', input: { runId: run.id } },
      }),
    );
    await expect.poll(() => batches).toBeGreaterThan(2);
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    socket.resume();
    const after = batches;
    await expect.poll(() => batches, { timeout: 10_000 }).toBeGreaterThan(after + 5);
    await reader.trpc.runs.cancel.mutate({ runId: run.id });
    // The batches committed while it did not read waited in the daemon, up to the pause.
    const { eventFanOut } = await engine!.orchestrator.metrics.vitals();
    expect(eventFanOut.p99Ms).toBeGreaterThan(500);
    expect(closes).toEqual([]);
  });

  it('keeps a subscriber slower than the run, only paced: every event once, in order, with no drop', async () => {
    // Its worker streams 64 KiB after 64 KiB until it is cut off: far more than the slow one reads.
    await serve({ provider: floodingProvider('x'.repeat(64 * KiB)), limits: { pacedBytes: 64 * KiB } });
    const reader = await connect();
    const run = await reader.trpc.runs.start.mutate({ goal: 'g' });
    const slow = await rawSubscriber('runs.eventBatches', run.id);
    // A subscriber that reads on meanwhile.
    let readerLast = 0;
    const readerSub = reader.trpc.runs.eventBatches.subscribe(
      { runId: run.id },
      { onData: ({ data }) => (readerLast = data.events.at(-1)!.id) },
    );
    await expect.poll(() => slow.ids.length).toBeGreaterThan(0);
    // It reads a fifth of the time: at the end of each pause it is behind the other one.
    const behindBy: number[] = [];
    for (let i = 0; i < 5; i++) {
      slow.socket.pause();
      await new Promise((resolve) => setTimeout(resolve, 400));
      behindBy.push(readerLast - slow.ids.at(-1)!);
      slow.socket.resume();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Math.min(...behindBy)).toBeGreaterThan(0);
    readerSub.unsubscribe();
    await reader.trpc.runs.cancel.mutate({ runId: run.id });
    await engine!.orchestrator.waitForRun(run.id);
    // Once it has read it all: the journal, every event once and in order, over the one connection.
    const journal = (await readJournal(home, run.id)).map((e) => e.id);
    await expect.poll(() => slow.ids.length, { timeout: 20_000 }).toBe(journal.length);
    expect(slow.ids).toEqual(journal);
    expect(slow.closed).toBe(false);
    expect(closes).toEqual([]);
  });

  it('does not call behind a subscriber whose socket holds one message larger than the bound', async () => {
    // `run.planned` of 128 tasks of 16 KiB: 2 MiB, eight times `pacedBytes`, in the socket at once.
    await serve({ limits: { pacedBytes: 256 * KiB } });
    const client = await connect();
    const big = Array.from({ length: 128 }, (_, i) => ({
      id: `t${i}`,
      title: `task ${i}`,
      description: 'x'.repeat(16 * KiB),
    }));
    const run = await client.trpc.runs.start.mutate({ tasks: big });
    const watcher = await rawSubscriber('runs.events', run.id);
    // Busy for a moment (drawing, parsing the plan) while the run goes on.
    watcher.socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    watcher.socket.resume();
    await engine!.orchestrator.waitForRun(run.id);
    const journal = (await readJournal(home, run.id)).map((e) => e.id);
    await expect.poll(() => watcher.ids.length, { timeout: 20_000 }).toBe(journal.length);
    expect(watcher.ids).toEqual(journal);
    expect(closes).toEqual([]);
  });
});

describe('runs.events', () => {
  it("counts in the daemon's fan-out once per live batch, as its last event is written", async () => {
    await serve();
    const client = await connect();
    const run = await client.trpc.runs.start.mutate({ tasks: tasks(20) });
    const received = await new Promise<OrcEvent[]>((resolve, reject) => {
      const events: OrcEvent[] = [];
      const sub = client.trpc.runs.events.subscribe(
        { runId: run.id },
        {
          onData: ({ data }) => {
            events.push(data);
            if (data.type !== 'run.completed') return;
            sub.unsubscribe();
            resolve(events);
          },
          onError: reject,
        },
      );
    });
    await expectJournalIds(received, run.id);
    const { eventFanOut } = await engine!.orchestrator.metrics.vitals();
    expect(eventFanOut.count).toBeGreaterThan(0);
    expect(eventFanOut.count).toBeLessThan(received.length);
  });
});

async function expectJournalIds(events: OrcEvent[], runId: string): Promise<void> {
  const journal = (await readJournal(home, runId)).map((e) => e.id);
  expect(events.map((e) => e.id)).toEqual(journal.slice(0, events.length));
}
