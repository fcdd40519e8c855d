import { statePaths, type RunSummary } from '@orc/shared';
import { startBenchDaemon, type BenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { sampleStartingDaemonCpu } from '../starting-daemon-cpu.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';
import { ZERO_LATENCY } from './measured-run.js';

/**
 * `kill -9` of the daemon halfway through the large run, then a restart on the same state directory.
 * Measured: from the restart until the run dispatches a task again, and how many tasks a client had been
 * told were completed (a `task.completed` event, published only once durable) are not done after it.
 */
export async function recoveryCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const size = ctx.quick ? 1000 : 10_000;
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    const recovery = await killMidRun(daemon, size, ctx.quick ? 60_000 : 300_000, ctx.log);
    const { summary, lost } = recovery;
    return {
      name: 'recovery',
      metrics: [
        {
          label: 'restart until dispatch resumes',
          value: recovery.resumeMs,
          unit: 'ms',
          target: { op: '<=', value: 2000 },
        },
        { label: 'daemon CPU until dispatch resumes', value: recovery.resumeCpuMs, unit: 'ms' },
        { label: 'finished results lost', value: lost, unit: '', target: { op: '<=', value: 0 } },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed: failedCount(summary) },
      lost,
      seconds: elapsedSince(started),
      notes: [recovery.note],
    };
  } finally {
    await daemon.dispose();
  }
}

export interface Recovery {
  /** From the restart until the run's first dispatch after it (NaN if none came). */
  resumeMs: number;
  /** The CPU the new daemon used from its start until that dispatch, in ms (NaN if unknown). */
  resumeCpuMs: number;
  /** Tasks a client saw completed that are not done after the restart, or were run again. */
  lost: number;
  /** The run once it finished after the restart. */
  summary: RunSummary;
  note: string;
}

/**
 * Starts a run of `size` tasks on the zero-latency model, kills the daemon with `kill -9` once half of
 * them are done, restarts it and waits for the run to finish.
 */
export async function killMidRun(
  daemon: BenchDaemon,
  size: number,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<Recovery> {
  const tasks = randomDag({ ...DEFAULT_DAG, tasks: size });
  const run = await daemon.client.trpc.runs.start.mutate({
    tasks,
    config: ZERO_LATENCY,
    source: 'bench recovery',
  });
  const completed = new Set<string>();
  let lastSeen = 0;
  const watcher = await daemon.connect();
  const before = watcher.trpc.runs.events.subscribe(
    { runId: run.id, lastEventId: null },
    {
      onData: ({ data }) => {
        const event = data;
        lastSeen = event.id;
        if (event.type === 'task.completed') completed.add(event.taskId);
      },
    },
  );
  await waitForRun(daemon.client, run.id, {
    timeoutMs,
    pollMs: 10,
    until: (s) => doneCount(s) >= size / 2 || s.status !== 'executing',
  });
  before.unsubscribe();
  const seenDone = new Set(completed);
  const killedPid = daemon.pid;
  await daemon.kill();
  log(`recovery: killed the daemon with ${seenDone.size} completions seen`);

  const restartAt = Date.now();
  const cpu = sampleStartingDaemonCpu(statePaths(daemon.home).lock, killedPid);
  const client = await daemon.restart().catch((error: unknown) => {
    cpu.stop();
    throw error;
  });
  const readyMs = Date.now() - restartAt;

  // Wait for the first dispatch after the restart, then for the run to finish.
  const reassigned = new Set<string>();
  let resumedAt: number | undefined;
  const after = client.trpc.runs.events.subscribe(
    { runId: run.id, lastEventId: lastSeen },
    {
      onData: ({ data }) => {
        const event = data;
        if (event.type !== 'task.assigned' || Date.parse(event.at) < restartAt) return;
        if (resumedAt === undefined) {
          resumedAt = Date.parse(event.at);
          // Samples go on a little past the dispatch: the one at it may not be taken yet.
          setTimeout(() => cpu.stop(), 100);
        }
        reassigned.add(event.taskId);
      },
    },
  );
  const summary = await waitForRun(client, run.id, { timeoutMs }).finally(() => cpu.stop());
  after.unsubscribe();
  const resumeCpuMs = resumedAt === undefined ? NaN : cpu.at(resumedAt);
  // Every task a client saw completed is done at the end, and none of them was run again.
  const restored = await client.trpc.runs.get.query({ runId: run.id, full: true });
  const notDone = restored.tasks.filter((t) => seenDone.has(t.id) && t.status !== 'done').length;
  const rerun = [...seenDone].filter((id) => reassigned.has(id)).length;
  return {
    resumeMs: resumedAt === undefined ? NaN : resumedAt - restartAt,
    resumeCpuMs,
    lost: Math.max(notDone, rerun),
    summary,
    note:
      `killed at ${seenDone.size} of ${size} completions seen; daemon answering after ${readyMs} ms, ` +
      `its CPU until dispatch resumed ${resumeCpuMs} ms; ` +
      `${notDone} seen-done tasks not done after restart, ${rerun} run again`,
  };
}
