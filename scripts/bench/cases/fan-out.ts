import { cpus, loadavg } from 'node:os';
import type { OrcClient } from '@orc/daemon/client';
import { sleep, startBenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, percentile, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

const SUBSCRIBERS = 10;
const WARM_UP_MS = 500;

/**
 * Ten clients, each on its own connection, follow one run whose tasks produce about 1,000 events a
 * second (16 workers, 45–70 ms per model call, about five events per task), in batches (`eventBatches`,
 * one per group commit of the journal). Delivery latency is, per event, the time from the batch's
 * `committedAt` (when the journal made it durable: fan-out proper) to the arrival of the batch at a
 * subscriber; also from its `at` (stamped when emitted, so the group commit's wait and fsync count too).
 * Daemon and subscribers share the machine's clock.
 */
export async function fanOutCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const measureMs = ctx.quick ? 2_000 : 10_000;
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  const clients: OrcClient[] = [];
  const subscriptions: { unsubscribe(): void }[] = [];
  try {
    for (let i = 0; i < SUBSCRIBERS; i++) clients.push(await daemon.connect());
    // Enough tasks that the run outlasts the measurement; it is cancelled at the end.
    const tasks = randomDag({ ...DEFAULT_DAG, tasks: Math.ceil((measureMs + 3000) / 1000) * 250 });
    const run = await daemon.client.trpc.runs.start.mutate({
      tasks,
      source: 'bench fan-out',
      config: { execution: { max_workers: 16 }, simulated: { seed: 6, latency_ms: { min: 45, max: 70 } } },
    });
    const latencies: number[] = [];
    const fromCommit: number[] = [];
    const received = new Array<number>(SUBSCRIBERS).fill(0);
    let windowStart = Infinity;
    let windowEnd = Infinity;
    clients.forEach((client, i) => {
      subscriptions.push(
        client.trpc.runs.eventBatches.subscribe(
          { runId: run.id, lastEventId: null },
          {
            onData: ({ data }) => {
              const now = Date.now();
              // Each event of the batch counts, as delivered when the batch holding it arrived.
              for (const event of data.events) {
                const at = Date.parse(event.at);
                if (at < windowStart || at >= windowEnd) continue;
                latencies.push(now - at);
                if (data.committedAt !== undefined) fromCommit.push(now - data.committedAt);
                received[i]!++;
              }
            },
          },
        ),
      );
    });
    windowStart = Date.now() + WARM_UP_MS;
    windowEnd = windowStart + measureMs;
    const cpuBefore = { daemon: daemon.cpuMs(), bench: process.cpuUsage() };
    ctx.log(`fan-out: run ${run.id}, ${SUBSCRIBERS} subscribers for ${measureMs} ms`);
    await sleep(WARM_UP_MS + measureMs + 200);
    const span = WARM_UP_MS + measureMs + 200;
    const daemonCpu = (daemon.cpuMs() - cpuBefore.daemon) / span;
    const benchUsage = process.cpuUsage(cpuBefore.bench);
    const benchCpu = (benchUsage.user + benchUsage.system) / 1000 / span;
    await daemon.client.trpc.runs.cancel.mutate({ runId: run.id });
    const summary = await waitForRun(daemon.client, run.id, { timeoutMs: 30_000 });
    const perSubscriber = Math.min(...received);
    const rate = perSubscriber / (measureMs / 1000);
    return {
      name: 'fan-out',
      metrics: [
        {
          label: `delivery latency p99, ${SUBSCRIBERS} subscribers (from the group commit)`,
          value: percentile(fromCommit, 99),
          unit: 'ms',
          target: { op: '<=', value: 25 },
        },
        {
          label: 'delivery latency p50 (from the group commit)',
          value: percentile(fromCommit, 50),
          unit: 'ms',
        },
        {
          label: "delivery latency p99 from the event's emit (commit included)",
          value: percentile(latencies, 99),
          unit: 'ms',
        },
        { label: "delivery latency p50 from the event's emit", value: percentile(latencies, 50), unit: 'ms' },
        { label: 'events per second per subscriber', value: rate, unit: 'events/s' },
      ],
      // The run is cancelled once measured: its finished tasks are what counts here.
      tasks: { total: doneCount(summary), done: doneCount(summary), failed: failedCount(summary) },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [
        `${latencies.length} deliveries; max ${percentile(latencies, 100)} ms; every subscriber got ${perSubscriber}–${Math.max(...received)} events in the window`,
        `CPU while measured: daemon ${Math.round(daemonCpu * 100)} % of a core, the 10 subscribers' process ${Math.round(benchCpu * 100)} %; machine load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      ],
    };
  } finally {
    for (const s of subscriptions) s.unsubscribe();
    await daemon.dispose();
  }
}
