import { cpus, loadavg } from 'node:os';
import type { OrcEvent } from '@orc/shared';
import type { BenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import type { CaseResult, Metric } from '../report.js';
import { doneCount, failedCount } from '../run-watch.js';
import { elapsedSince, withDaemon, type CaseContext } from './case-context.js';
import { ZERO_LATENCY, measuredRun, type MeasuredRun } from './measured-run.js';

const MB = 1024 * 1024;

/**
 * overhead, persistence and reattach: one large run (10,000 tasks, zero-latency model, 16 workers) end
 * to end through a fresh daemon, and one run a tenth of its size on another fresh daemon, so the bytes
 * per task of the two can be compared.
 */
export async function largeRunCases(ctx: CaseContext): Promise<CaseResult[]> {
  const large = ctx.quick ? 1000 : 10_000;
  const small = large / 10;
  const timeoutMs = ctx.quick ? 60_000 : 600_000;

  let started = Date.now();
  const smallRun = await withDaemon(ctx, async (daemon) => {
    ctx.log(`persistence: ${small} tasks`);
    return measuredRun(daemon, randomDag({ ...DEFAULT_DAG, tasks: small }), ZERO_LATENCY, timeoutMs);
  });
  const smallSeconds = elapsedSince(started);

  started = Date.now();
  let overheadSeconds = 0;
  const { run, peakRss, reattach } = await withDaemon(ctx, async (daemon) => {
    ctx.log(`overhead: ${large} tasks`);
    const measured = await measuredRun(
      daemon,
      randomDag({ ...DEFAULT_DAG, tasks: large }),
      ZERO_LATENCY,
      timeoutMs,
    );
    const peak = daemon.peakRss();
    overheadSeconds = elapsedSince(started);
    ctx.log(`reattach: a new client on run ${measured.runId}`);
    const attached = await reattachTo(daemon, measured.runId);
    return { run: measured, peakRss: peak, reattach: attached };
  });

  const taskTotals = (...runs: MeasuredRun[]) => ({
    total: runs.reduce((n, r) => n + r.summary.taskTotal, 0),
    done: runs.reduce((n, r) => n + doneCount(r.summary), 0),
    failed: runs.reduce((n, r) => n + failedCount(r.summary), 0),
  });
  const perTask = (r: MeasuredRun) => ({
    bytes: r.io.wchar / r.summary.taskTotal,
    writes: r.io.syscw / r.summary.taskTotal,
    disk: r.diskBytes / r.summary.taskTotal,
  });
  const s = perTask(smallRun);
  const l = perTask(run);
  const k = (n: number) => `${n / 1000}k`;

  const persistence: Metric[] = [
    { label: `bytes written per task at ${k(small)}`, value: s.bytes, unit: 'B' },
    { label: `bytes written per task at ${k(large)}`, value: l.bytes, unit: 'B' },
    {
      label: `bytes per task at ${k(large)} ÷ at ${k(small)}`,
      value: l.bytes / s.bytes,
      unit: '×',
      target: { op: '<=', value: 2 },
    },
    { label: `writes per task at ${k(small)}`, value: s.writes, unit: '' },
    { label: `writes per task at ${k(large)}`, value: l.writes, unit: '' },
  ];

  return [
    {
      name: 'overhead',
      metrics: [
        {
          label: `throughput, ${k(large)} tasks end to end`,
          value: run.summary.taskTotal / (run.wallMs / 1000),
          unit: 'tasks/s',
          target: { op: '>=', value: 2000 },
        },
        { label: 'daemon peak RSS', value: peakRss / MB, unit: 'MB', target: { op: '<=', value: 300 } },
      ],
      tasks: taskTotals(run),
      lost: 0,
      seconds: overheadSeconds,
      notes: [
        `${run.summary.taskTotal} tasks in ${run.wallMs} ms (runs.start to the run's finishedAt); the daemon used ${Math.round(run.cpuMs)} ms of CPU ` +
          `(${Math.round(run.summary.taskTotal / (run.cpuMs / 1000))} tasks per CPU-second), machine load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      ],
    },
    {
      name: 'persistence',
      metrics: persistence,
      tasks: taskTotals(smallRun, run),
      lost: 0,
      seconds: smallSeconds + overheadSeconds,
      notes: [
        `bytes and writes are the daemon's write syscalls over the run (/proc/<pid>/io wchar, syscw; a little of it is RPC traffic)`,
        `on disk at the end: ${Math.round(s.disk)} B per task at ${k(small)}, ${Math.round(l.disk)} B at ${k(large)}; ` +
          `block-device writes ${Math.round(smallRun.io.writeBytes / smallRun.summary.taskTotal)} B and ${Math.round(run.io.writeBytes / run.summary.taskTotal)} B per task`,
      ],
    },
    {
      name: 'reattach',
      metrics: [
        {
          label: `new client, ${k(large)}-task run: state + subscription caught up`,
          value: reattach.totalMs,
          unit: 'ms',
          target: { op: '<=', value: 500 },
        },
        { label: 'full event replay from the first event', value: reattach.replayMs, unit: 'ms' },
      ],
      tasks: taskTotals(run),
      lost: 0,
      seconds: reattach.totalMs / 1000,
      notes: [
        `connect ${reattach.connectMs} ms, runs.get ${reattach.getMs} ms (${reattach.viewBytes} bytes), subscription caught up ${reattach.subscribeMs} ms; replay of ${reattach.replayedEvents} events ${reattach.replayMs} ms`,
      ],
    },
  ];
}

/**
 * What `orc attach` does on a finished run: connect, read the run's state, subscribe after the state's
 * last event. The subscription counts as caught up when the run's last event arrives (it asks from one
 * before it), which proves the daemon served the journal to its end.
 */
export async function reattachTo(daemon: BenchDaemon, runId: string, options = { replay: true }) {
  const t0 = performance.now();
  const client = await daemon.connect();
  const t1 = performance.now();
  const view = await client.trpc.runs.get.query({ runId });
  const t2 = performance.now();
  await untilEvent(client, runId, view.lastEventId - 1, (event) => event.id >= view.lastEventId);
  const t3 = performance.now();

  // For reference: a client that replays the whole journal instead of reading the state.
  const replayStart = performance.now();
  let replayed = 0;
  if (options.replay) {
    await untilEvent(client, runId, 0, (event) => {
      replayed++;
      return event.id >= view.lastEventId;
    });
  }
  const replayMs = Math.round(performance.now() - replayStart);
  return {
    connectMs: Math.round(t1 - t0),
    getMs: Math.round(t2 - t1),
    subscribeMs: Math.round(t3 - t2),
    totalMs: Math.round(t3 - t0),
    viewBytes: JSON.stringify(view).length,
    replayMs,
    replayedEvents: replayed,
  };
}

/** Subscribes to a run's events after `afterId` and resolves once `done` says so. */
export function untilEvent(
  client: BenchDaemon['client'],
  runId: string,
  afterId: number,
  done: (event: OrcEvent) => boolean,
  timeoutMs = 60_000,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`run ${runId}: the awaited event did not arrive within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = client.trpc.runs.events.subscribe(
      { runId, lastEventId: afterId },
      {
        onData: ({ data }) => {
          if (done(data)) {
            clearTimeout(timer);
            subscription.unsubscribe();
            resolve();
          }
        },
        onError: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      },
    );
  });
}
