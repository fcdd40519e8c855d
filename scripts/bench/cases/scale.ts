import { cpus, loadavg } from 'node:os';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount } from '../run-watch.js';
import { elapsedSince, withDaemon, type CaseContext } from './case-context.js';
import { reattachTo } from './large-run.js';
import { ZERO_LATENCY, measuredRun } from './measured-run.js';
import { killMidRun } from './recovery.js';

const MB = 1024 * 1024;

/**
 * 100k: the large-run cases ten times larger. One run of 100,000 tasks through a fresh daemon (zero-latency
 * model, 16 workers): throughput, the daemon's peak RSS, bytes written per task against a 1,000-task run on
 * another fresh daemon, a new client's reattach; then a second run of the same size on the same daemon,
 * killed with `kill -9` halfway and restarted: until dispatch resumes, and no finished result lost. The
 * screen on a run of this size is the `live screen` case.
 */
export async function scaleCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const size = ctx.quick ? 2_000 : 100_000;
  const small = 1_000;
  const timeoutMs = ctx.quick ? 60_000 : 600_000;
  const k = (n: number) => `${n / 1000}k`;

  const baseline = await withDaemon(ctx, (daemon) => {
    ctx.log(`scale: ${small} tasks for the bytes per task`);
    return measuredRun(daemon, randomDag({ ...DEFAULT_DAG, tasks: small }), ZERO_LATENCY, timeoutMs);
  });

  const measured = await withDaemon(ctx, async (daemon) => {
    ctx.log(`scale: ${size} tasks`);
    const run = await measuredRun(
      daemon,
      randomDag({ ...DEFAULT_DAG, tasks: size }),
      ZERO_LATENCY,
      timeoutMs,
    );
    const peakRss = daemon.peakRss();
    ctx.log(`scale: a new client on run ${run.runId}`);
    const reattach = await reattachTo(daemon, run.runId, { replay: false });
    ctx.log(`scale: kill -9 halfway through another ${size}-task run`);
    const recovery = await killMidRun(daemon, size, timeoutMs, ctx.log);
    return { run, peakRss, reattach, recovery };
  });

  const { run, peakRss, reattach, recovery } = measured;
  const bytes = (r: typeof run) => r.io.wchar / r.summary.taskTotal;
  return {
    name: 'scale',
    metrics: [
      {
        label: `throughput, ${k(size)} tasks end to end`,
        value: run.summary.taskTotal / (run.wallMs / 1000),
        unit: 'tasks/s',
        target: { op: '>=', value: 3000 },
      },
      { label: 'daemon peak RSS', value: peakRss / MB, unit: 'MB', target: { op: '<=', value: 1024 } },
      { label: `bytes written per task at ${k(size)}`, value: bytes(run), unit: 'B' },
      {
        label: `bytes per task at ${k(size)} ÷ at ${k(small)}`,
        value: bytes(run) / bytes(baseline),
        unit: '×',
        target: { op: '<=', value: 1.5 },
      },
      {
        label: `new client, ${k(size)}-task run: view + subscription caught up`,
        value: reattach.totalMs,
        unit: 'ms',
        target: { op: '<=', value: 500 },
      },
      {
        label: "the run's view (runs.get)",
        value: reattach.viewBytes / 1024,
        unit: 'KB',
        target: { op: '<=', value: 1024 },
      },
      {
        label: 'recovery: restart until dispatch resumes',
        value: recovery.resumeMs,
        unit: 'ms',
        target: { op: '<=', value: 2000 },
      },
      { label: 'recovery: daemon CPU until dispatch resumes', value: recovery.resumeCpuMs, unit: 'ms' },
      { label: 'finished results lost', value: recovery.lost, unit: '', target: { op: '<=', value: 0 } },
    ],
    tasks: {
      total: run.summary.taskTotal + recovery.summary.taskTotal,
      done: doneCount(run.summary) + doneCount(recovery.summary),
      failed: failedCount(run.summary) + failedCount(recovery.summary),
    },
    lost: recovery.lost,
    seconds: elapsedSince(started),
    notes: [
      `${run.summary.taskTotal} tasks in ${run.wallMs} ms; the daemon used ${Math.round(run.cpuMs)} ms of CPU ` +
        `(${Math.round(run.summary.taskTotal / (run.cpuMs / 1000))} tasks per CPU-second), machine load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
      `bytes written per task: ${Math.round(bytes(baseline))} B at ${k(small)}, ${Math.round(bytes(run))} B at ${k(size)}; ` +
        `on disk ${Math.round(run.diskBytes / run.summary.taskTotal)} B per task at ${k(size)}`,
      `reattach: connect ${reattach.connectMs} ms, runs.get ${reattach.getMs} ms (${reattach.viewBytes} bytes), subscription caught up ${reattach.subscribeMs} ms`,
      `recovery: ${recovery.note}`,
    ],
  };
}
