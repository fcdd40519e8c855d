import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { RPC_LIMITS } from '@orc/shared';
import { WebSocket } from 'ws';
import { sleep, startBenchDaemon } from '../bench-daemon.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, percentile, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

const PROBE_MS = 100;

/**
 * Issue 13's greedy client against a daemon running a 10,000-task run: one connection sends a frame of
 * 2,000 batched `runs.get` (before the connection bounds this held 3.1 GB after 30 s and killed the
 * daemon after 67 s), then another sends as many `runs.get {full}` as the bounds allow and never reads.
 * Measured while they do: the daemon's peak resident set, how long another client waits for
 * `daemon.health`, and how many tasks the run finishes meanwhile.
 */
export async function hostileClientCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const attackMs = ctx.quick ? 2_000 : 10_000;
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    const token = readFileSync(join(daemon.home, 'token'), 'utf8').trim();
    const port = daemon.client.info.port;
    const tasks = Array.from({ length: ctx.quick ? 2_000 : 10_000 }, (_, i) => ({
      id: `t${i + 1}`,
      title: `task ${i + 1}`,
    }));
    const run = await daemon.client.trpc.runs.start.mutate({
      tasks,
      source: 'bench hostile client',
      config: { execution: { max_workers: 8 }, simulated: { seed: 13, latency_ms: { min: 20, max: 40 } } },
    });
    const doneNow = async () =>
      doneCount((await daemon.client.trpc.runs.list.query()).find((r) => r.id === run.id)!);
    const doneBefore = await doneNow();

    const flood = await hostileSocket(port, token);
    flood.send(runsGet(2_000, run.id));
    const reader = await hostileSocket(port, token);
    reader.send(runsGet(RPC_LIMITS.callsInFlight, run.id, true));
    ctx.log(`hostile client: run ${run.id}, attacking for ${attackMs} ms`);

    const latencies: number[] = [];
    const probe = await daemon.connect();
    const until = Date.now() + attackMs;
    while (Date.now() < until) {
      const sent = Date.now();
      await probe.trpc.daemon.health.query();
      latencies.push(Date.now() - sent);
      await sleep(PROBE_MS);
    }
    const doneDuring = (await doneNow()) - doneBefore;
    const peakMb = daemon.peakRss() / 2 ** 20;
    flood.end();
    reader.end();

    await daemon.client.trpc.runs.cancel.mutate({ runId: run.id });
    const summary = await waitForRun(daemon.client, run.id, { timeoutMs: 30_000 });
    return {
      name: 'hostile client',
      metrics: [
        {
          label: 'daemon peak RSS under attack',
          value: peakMb,
          unit: 'MB',
          target: { op: '<=', value: 400 },
        },
        {
          label: 'daemon.health p99 for another client',
          value: percentile(latencies, 99),
          unit: 'ms',
          target: { op: '<=', value: 100 },
        },
        {
          label: 'tasks finished per second meanwhile',
          value: doneDuring / (attackMs / 1000),
          unit: 'tasks/s',
        },
      ],
      // The run is cancelled once measured: its finished tasks are what counts here.
      tasks: { total: doneCount(summary), done: doneCount(summary), failed: failedCount(summary) },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [],
    };
  } finally {
    await daemon.dispose();
  }
}

/** A client that speaks tRPC by hand on a bare socket and never reads what it is sent. */
async function hostileSocket(port: number, token: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?connectionParams=1`);
  ws.on('error', () => undefined);
  await once(ws, 'open');
  (ws as unknown as { _socket: Socket })._socket.pause();
  ws.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
  return { send: (message: unknown) => ws.send(JSON.stringify(message)), end: () => ws.terminate() };
}

function runsGet(count: number, runId: string, full = false) {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    method: 'query',
    params: { path: 'runs.get', input: { runId, full } },
  }));
}
