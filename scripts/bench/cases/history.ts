import type { OrcClient } from '@orc/daemon/client';
import type { OrcEvent } from '@orc/shared';
import { sleep, startBenchDaemon, type BenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';
import { ZERO_LATENCY } from './measured-run.js';

const MB = 1024 * 1024;
/** The new run started on a daemon with history: small, so it measures the daemon and not the run. */
const PROBE_TASKS = 20;

/**
 * A daemon whose state directory holds one finished run of 100,000 tasks (made by the engine itself, on
 * the zero-latency model) is stopped and started again. Measured: from the start until a new run
 * dispatches its first task, and the daemon's resident set once it is idle again. Neither should grow
 * with finished history.
 */
export async function historyCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const size = ctx.quick ? 2000 : 100_000;
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    // The same measure on the empty state directory: what starting node and the daemon costs anyway.
    await daemon.stop();
    const empty = await startToDispatch(daemon);
    ctx.log(`history: ${empty.dispatchMs} ms to the first dispatch with no history`);
    ctx.log(`history: a finished run of ${size} tasks`);
    const made = Date.now();
    const history = await daemon.client.trpc.runs.start.mutate({
      tasks: randomDag({ ...DEFAULT_DAG, tasks: size }),
      config: ZERO_LATENCY,
      source: 'bench history',
    });
    const finished = await waitForRun(daemon.client, history.id, {
      timeoutMs: ctx.quick ? 60_000 : 1_800_000,
      pollMs: 250,
    });
    const madeSeconds = elapsedSince(made);
    await daemon.stop();
    const historyBytes = daemon.runDirBytes(history.id);
    ctx.log(
      `history: ${(historyBytes / MB).toFixed(0)} MB on disk after ${madeSeconds.toFixed(0)} s; restarting`,
    );

    const { client, answeringMs, dispatchMs, probe } = await startToDispatch(daemon);
    // Idle: no run is active. Give timers and the collector a moment before reading the resident set.
    await sleep(2000);
    const idleRss = daemon.rss();

    const listAt = Date.now();
    const listed = await client.trpc.runs.list.query();
    const listMs = Date.now() - listAt;
    const showAt = Date.now();
    const shown = await client.trpc.runs.get.query({ runId: history.id });
    const showMs = Date.now() - showAt;
    const shownDone = doneCount(shown);
    // The finished run, loaded for runs.get, is let go 30 s after; the full run waits to see it go.
    const releasedRss = ctx.quick ? undefined : await settledRss(daemon, 60_000);

    return {
      name: 'history',
      metrics: [
        {
          label: `daemon start to a new run's first dispatch, ${size / 1000}k finished tasks on disk`,
          value: dispatchMs,
          unit: 'ms',
          target: { op: '<=', value: 1000 },
        },
        {
          label: 'the same with no history (starting node and the daemon)',
          value: empty.dispatchMs,
          unit: 'ms',
        },
        {
          label: 'idle daemon RSS with that history',
          value: idleRss / MB,
          unit: 'MB',
          target: { op: '<=', value: 150 },
        },
        { label: 'daemon answering after start', value: answeringMs, unit: 'ms' },
        { label: 'runs.list', value: listMs, unit: 'ms' },
        { label: 'runs.get of the finished run (loads it)', value: showMs, unit: 'ms' },
        ...(releasedRss === undefined
          ? []
          : [
              {
                label: 'daemon RSS once that run is let go again',
                value: releasedRss / MB,
                unit: 'MB',
                target: { op: '<=' as const, value: 150 },
              },
            ]),
      ],
      tasks: {
        total: finished.taskTotal + probe.taskTotal + empty.probe.taskTotal,
        done: doneCount(finished) + doneCount(probe) + doneCount(empty.probe),
        failed: failedCount(finished) + failedCount(probe) + failedCount(empty.probe),
      },
      // The finished run, read back after the restart, still has every task done.
      lost: finished.taskTotal - shownDone,
      seconds: elapsedSince(started),
      notes: [
        `history made in ${madeSeconds.toFixed(0)} s, ${(historyBytes / MB).toFixed(0)} MB on disk; ` +
          `${listed.length} runs listed after the restart`,
      ],
    };
  } finally {
    await daemon.dispose();
  }
}

/**
 * Starts the stopped daemon and a small run on it: from the start until the run's first dispatch, and
 * until the daemon answered. Resolves once the run is over, with its summary.
 */
async function startToDispatch(daemon: BenchDaemon) {
  const restartAt = Date.now();
  const client = await daemon.restart();
  const answeringMs = Date.now() - restartAt;
  const started = await client.trpc.runs.start.mutate({
    tasks: randomDag({ ...DEFAULT_DAG, tasks: PROBE_TASKS }),
    config: ZERO_LATENCY,
    source: 'bench history probe',
  });
  const dispatched = await firstEvent(client, started.id, 'task.assigned');
  const dispatchMs = Date.parse(dispatched.at) - restartAt;
  const probe = await waitForRun(client, started.id, { timeoutMs: 60_000, pollMs: 25 });
  return { client, answeringMs, dispatchMs, probe };
}

/**
 * The daemon's RSS after a loaded finished run's idle time (30 s) has passed and the collector has had a
 * few seconds: the first reading within 5 % of the one before, or the last after `timeoutMs`.
 */
async function settledRss(daemon: BenchDaemon, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  await sleep(35_000);
  let last = daemon.rss();
  while (Date.now() < deadline) {
    await sleep(2000);
    const now = daemon.rss();
    if (Math.abs(now - last) <= last * 0.05) return now;
    last = now;
  }
  return last;
}

/** The run's first event of a type, from a subscription opened now (it replays from the start). */
function firstEvent(client: OrcClient, runId: string, type: OrcEvent['type']): Promise<OrcEvent> {
  return new Promise((resolve, reject) => {
    const subscription = client.trpc.runs.events.subscribe(
      { runId, lastEventId: null },
      {
        onData: ({ data }) => {
          if (data.type !== type) return;
          subscription.unsubscribe();
          resolve(data);
        },
        onError: (error) => reject(error instanceof Error ? error : new Error(String(error))),
      },
    );
  });
}
