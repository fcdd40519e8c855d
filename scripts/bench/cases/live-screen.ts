import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { OrcClient } from '@orc/daemon/client';
import type { ConfigInput, LatencyVitals } from '@orc/shared';
import { procCpuMs, type BenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag, taskId } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, percentile, waitForRun } from '../run-watch.js';
import { elapsedSince, withDaemon, type CaseContext } from './case-context.js';
import { TmuxScreen } from '../tmux-screen.js';
import { SubscriberProcess, type Deliveries } from '../subscriber-process.js';
import { journalBytesBetween, type JournalBytes } from '../journal-bytes.js';
import { ZERO_LATENCY } from './measured-run.js';

const SUBSCRIBERS = 10;
/**
 * The quick mode's run (npm test) goes slower than full speed, so that it is still going while it is
 * measured: 2,000 tasks at full speed ended before the screen showed (no delivery in the window: NaN).
 */
const QUICK_PACE: ConfigInput = { ...ZERO_LATENCY, simulated: { seed: 6, latency_ms: { min: 40, max: 60 } } };
/** A key not answered in this long counts as this long (the target is 100 ms). */
const KEY_TIMEOUT_MS = 5_000;

/**
 * 100k: `orc attach` under tmux on a run of 100,000 tasks at full speed, ten subscribers following it, on
 * a daemon of its own (one that already holds two runs of this size is not what a user attaches to).
 */
export async function liveScreenCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const size = ctx.quick ? 2_000 : 100_000;
  const k = `${size / 1000}k`;
  const live = await withDaemon(ctx, (daemon) => {
    ctx.log(`live screen: orc attach under tmux on a ${size}-task run at full speed`);
    return liveScreen(daemon, size, ctx.quick ? 6 : 20, ctx.log, ctx.quick ? QUICK_PACE : ZERO_LATENCY);
  });
  return {
    name: 'live screen',
    metrics: [
      {
        label: `orc attach under tmux: key to screen, p95 (End/Home on a ${k} run at full speed)`,
        value: percentile(live.keyMs, 95),
        unit: 'ms',
        target: { op: '<=', value: 100 },
      },
      {
        label: 'delivery latency p99 from the group commit, the screen and 10 subscribers attached',
        value: live.deliveries.fromCommit.p99,
        unit: 'ms',
        target: { op: '<=', value: 25 },
      },
      {
        label: "the daemon's own fan-out p99, group commit to socket write (its histogram's estimate)",
        value: live.fanOut.p99Ms,
        unit: 'ms',
      },
      {
        label: "delivery latency p99 from the event's emit (commit included)",
        value: live.deliveries.fromEmitP99,
        unit: 'ms',
      },
      {
        label: 'distinct screens a second (polled; at most 20 drawn)',
        value: live.screensPerSecond,
        unit: '/s',
      },
    ],
    // The run is cancelled once measured: its finished tasks are what counts here.
    tasks: { total: live.done, done: live.done, failed: live.failed },
    lost: 0,
    seconds: elapsedSince(started),
    notes: [
      `keys ${live.keyMs.map(Math.round).join(', ')} ms (max ${Math.round(Math.max(...live.keyMs))}); ` +
        `${live.deliveries.count} deliveries (${live.deliveries.perSubscriber.min}–${live.deliveries.perSubscriber.max} events a subscriber), ` +
        `p50 ${live.deliveries.fromCommit.p50} ms, max ${live.deliveries.fromCommit.max} ms; ` +
        `subscriber connections closed ${live.deliveries.disconnects.count} times (codes ${live.deliveries.disconnects.codes.join(', ') || 'none'}); ` +
        `${live.doneWhileMeasured} tasks done meanwhile; machine load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      `CPU while measured: daemon ${percentOf(live.cpu.daemon)}, the screen ${percentOf(live.cpu.screen)}, ` +
        `the subscribers' process ${percentOf(live.cpu.subscribers)}, the bench ${percentOf(live.cpu.bench)} of a core`,
      `wire while measured: ${live.wire.events} events, ${Math.round(live.wire.bytes / Math.max(1, live.wire.events))} bytes an event, ` +
        `${(live.wire.bytes / live.wire.seconds / 1e6).toFixed(1)} MB/s to each subscriber`,
      subscribersNeed(live),
    ],
  };
}

export interface LiveScreen {
  /** From a key sent to the pane to the screen showing what it asked for (End, Home), each press. */
  keyMs: number[];
  /** Distinct screens seen a second while polling for 2 s (the screen draws at most 20 frames a second). */
  screensPerSecond: number;
  /** Delivery of the events emitted while measured to 10 subscribers, with the screen attached. */
  deliveries: Deliveries;
  /** The daemon's fan-out as it counts it (`daemon.health`): from the group commit to the socket. */
  fanOut: LatencyVitals;
  doneWhileMeasured: number;
  /** CPU while measured, in cores: the daemon, this process (timing the keys), the screen, the subscribers. */
  cpu: { daemon: number; bench: number; screen: number; subscribers: number };
  /** The events emitted while measured, and their bytes (each subscriber's stream), from the journal. */
  wire: JournalBytes & { seconds: number };
  /** Tasks done and failed in the run once it was cancelled. */
  done: number;
  failed: number;
}

/**
 * `orc attach` under tmux on a run of `size` tasks at full speed (zero-latency model, 16 workers), with
 * ten more clients following the run's events: End and Home alternately, each timed until the table shows
 * the row of the last task (not in the view the screen attached with: fetched from the daemon, then kept
 * current by the events as every row the screen holds) or of the first again; then the run is cancelled.
 */
export async function liveScreen(
  daemon: BenchDaemon,
  size: number,
  keyPresses: number,
  log: (line: string) => void,
  config: ConfigInput = ZERO_LATENCY,
): Promise<LiveScreen> {
  const run = await daemon.client.trpc.runs.start.mutate({
    tasks: randomDag({ ...DEFAULT_DAG, tasks: size }),
    config,
    source: 'bench live screen',
  });
  await waitForRun(daemon.client, run.id, {
    timeoutMs: 120_000,
    pollMs: 20,
    until: (s) => s.status === 'executing',
  });
  // The subscribers join where the run is (a replay from the first event, with the plan of 100,000
  // tasks in it, measures the replay instead), in a process of their own (see SubscriberProcess).
  const subscribers = new SubscriberProcess();
  const screen = new TmuxScreen(daemon.home, run.id);
  let measured: Omit<LiveScreen, 'done' | 'failed' | 'wire'>;
  let window: { from: number; to: number };
  try {
    await subscribers.follow(daemon.home, run.id, SUBSCRIBERS);
    const first = new RegExp(`^│${taskId(0)}\\s`, 'm');
    const last = new RegExp(`^│${taskId(size - 1)}\\s`, 'm');
    if ((await screen.waitFor((s) => first.test(s), 30_000)) === undefined)
      throw new Error(`the screen did not show run ${run.id}:\n${await screen.capture()}`);
    const doneBefore = await doneNow(daemon.client, run.id);
    const attachPid = screen.attachPid();
    const cpuOf = () => ({
      daemon: daemon.cpuMs(),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      screen: attachPid === undefined ? NaN : procCpuMs(attachPid),
    });
    const cpuBefore = cpuOf();
    const measureFrom = Date.now();
    subscribers.measureFrom(measureFrom);
    log(`live screen: ${keyPresses} keys on run ${run.id}, ${SUBSCRIBERS} subscribers`);
    const keyMs: number[] = [];
    for (let i = 0; i < keyPresses; i++) {
      const toEnd = i % 2 === 0;
      screen.keys(toEnd ? 'End' : 'Home');
      const ms = await screen.waitFor((s) => (toEnd ? last : first).test(s), KEY_TIMEOUT_MS);
      keyMs.push(ms ?? KEY_TIMEOUT_MS);
    }
    const seen = new Set<string>();
    const pollStarted = Date.now();
    while (Date.now() - pollStarted < 2_000) {
      seen.add(await screen.capture());
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const measureTo = Date.now();
    window = { from: measureFrom, to: measureTo };
    const cpuAfter = cpuOf();
    const span = measureTo - measureFrom;
    const cpu = {
      daemon: (cpuAfter.daemon - cpuBefore.daemon) / span,
      bench: (cpuAfter.bench - cpuBefore.bench) / span,
      screen: (cpuAfter.screen - cpuBefore.screen) / span,
      subscribers: NaN,
    };
    const doneWhileMeasured = (await doneNow(daemon.client, run.id)) - doneBefore;
    // The daemon's own count, over the subscribers' whole time (they joined live): commit to socket.
    const { metrics } = await daemon.client.trpc.daemon.health.query();
    const deliveries = await subscribers.stop(measureTo);
    cpu.subscribers = deliveries.cpuMs / span;
    measured = {
      keyMs,
      screensPerSecond: seen.size / 2,
      deliveries,
      fanOut: metrics.eventFanOut,
      doneWhileMeasured,
      cpu,
    };
  } finally {
    screen.kill();
    await subscribers.close();
    await daemon.client.trpc.runs.cancel.mutate({ runId: run.id }).catch(() => undefined);
    await waitForRun(daemon.client, run.id, { timeoutMs: 60_000 }).catch(() => undefined);
  }
  const summary = await waitForRun(daemon.client, run.id, { timeoutMs: 1_000 });
  const journal = join(daemon.home, 'runs', run.id, 'events.jsonl');
  const wire = {
    ...(await journalBytesBetween(journal, window.from, window.to)),
    seconds: (window.to - window.from) / 1000,
  };
  return { ...measured, wire, done: doneCount(summary), failed: failedCount(summary) };
}

async function doneNow(client: OrcClient, runId: string): Promise<number> {
  const view = await client.trpc.runs.get.query({ runId });
  return view.taskCounts['done'] ?? 0;
}

function percentOf(cores: number): string {
  return Number.isFinite(cores) ? `${Math.round(cores * 100)} %` : '?';
}

/**
 * What the subscribers' process pays an event (the WebSocket frame, tRPC, JSON.parse of the batch, the
 * measuring), and the share of a core that keeping up with the run would take it: above what it got,
 * its subscribers fall behind and the delivery latency is their backlog, whatever the daemon does.
 */
function subscribersNeed(live: LiveScreen): string {
  const { cpuMs, received } = live.deliveries;
  const usPerEvent = (cpuMs * 1000) / Math.max(1, received);
  const perSecond = live.wire.events / live.wire.seconds;
  const need = (usPerEvent * perSecond * SUBSCRIBERS) / 1e6;
  return (
    `the subscribers' process: ${usPerEvent.toFixed(2)} µs of CPU an event received (${received} received); ` +
    `keeping up with ${Math.round(perSecond)} events/s × ${SUBSCRIBERS} takes ${percentOf(need)} of a core, ` +
    `it got ${percentOf(live.cpu.subscribers)}`
  );
}
