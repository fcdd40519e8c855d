import { cpus, loadavg } from 'node:os';
import type { TaskRecord, TaskSpecInput } from '@orc/shared';
import { patternsOverlap } from '@orc/shared';
import { startBenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, flatTasks, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';
import { ZERO_LATENCY, measuredRun } from './measured-run.js';

/** Tasks share a folder in groups of this many: each folder's tasks may not run at once. */
const GROUP = 100;

/**
 * touches: the large run's graph (10,000 tasks, zero-latency model, 16 workers) run twice on one daemon,
 * once without touches and once with every task touching `src/area<k>/**` and a file of its own, so the
 * tasks of each area of 100 must take turns. Throughput of the two is compared, and the finished run is
 * checked: no two tasks of one area were in flight at the same time. Then a crowd: as many independent
 * tasks in five areas, all ready at once, which cost the scheduler most.
 */
export async function touchesCase(ctx: CaseContext): Promise<CaseResult> {
  const count = ctx.quick ? 1000 : 10_000;
  const timeoutMs = ctx.quick ? 60_000 : 600_000;
  const started = Date.now();
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    const plain = randomDag({ ...DEFAULT_DAG, tasks: count });
    ctx.log(`touches: ${count} tasks without touches`);
    const without = await measuredRun(daemon, plain, ZERO_LATENCY, timeoutMs);
    const areas = Math.ceil(count / GROUP);
    const areaOf = new Map(
      plain.map((spec, i) => [spec.id, [`src/area${i % areas}/**`, `src/own/${spec.id}.ts`]]),
    );
    const touching: TaskSpecInput[] = plain.map((spec) => ({ ...spec, touches: areaOf.get(spec.id)! }));
    ctx.log(`touches: ${count} tasks in areas of ${GROUP}`);
    const withTouches = await measuredRun(daemon, touching, ZERO_LATENCY, timeoutMs);
    const run = await daemon.client.trpc.runs.get.query({ runId: withTouches.runId });
    const overlaps = overlapsInFlight(run.tasks);
    // The same check on the run without touches, as if its tasks had touched the same areas: what the
    // scheduler keeps apart (and proof the check can see an overlap).
    const plainRun = await daemon.client.trpc.runs.get.query({ runId: without.runId });
    const unordered = overlapsInFlight(
      plainRun.tasks.map((t) => ({ ...t, touches: areaOf.get(t.id) ?? [] })),
    );
    // A crowd: independent tasks in five areas, all ready at once, at most five in flight.
    ctx.log(`touches: ${count} independent tasks in 5 areas`);
    const crowd = await measuredRun(
      daemon,
      flatTasks(count).map((spec, i) => ({
        ...spec,
        touches: [`src/area${i % 5}/**`, `src/own/${spec.id}.ts`],
      })),
      ZERO_LATENCY,
      timeoutMs,
    );
    const rate = (r: typeof without) => r.summary.taskTotal / (r.wallMs / 1000);
    // The daemon's CPU per task moves less with the machine's load than the wall clock does.
    const cpuPerTask = (r: typeof without) => (r.cpuMs * 1000) / r.summary.taskTotal;
    return {
      name: 'touches',
      metrics: [
        {
          label: `throughput, ${count / 1000}k tasks without touches`,
          value: rate(without),
          unit: 'tasks/s',
        },
        { label: `throughput, areas of ${GROUP} taking turns`, value: rate(withTouches), unit: 'tasks/s' },
        { label: 'daemon CPU per task without touches', value: cpuPerTask(without), unit: 'µs' },
        {
          label: 'daemon CPU per task with touches',
          value: cpuPerTask(withTouches),
          unit: 'µs',
          target: { op: '<=', value: cpuPerTask(without) * 1.25 },
        },
        { label: 'daemon CPU per task, independent tasks in 5 areas', value: cpuPerTask(crowd), unit: 'µs' },
        { label: 'overlapping pairs in flight, not ordered', value: unordered, unit: 'pairs' },
        {
          label: 'overlapping pairs in flight, ordered by touches',
          value: overlaps,
          unit: 'pairs',
          target: { op: '<=', value: 0 },
        },
      ],
      tasks: {
        total: [without, withTouches, crowd].reduce((n, r) => n + r.summary.taskTotal, 0),
        done: [without, withTouches, crowd].reduce((n, r) => n + doneCount(r.summary), 0),
        failed: [without, withTouches, crowd].reduce((n, r) => n + failedCount(r.summary), 0),
      },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [`16 workers, zero-latency model; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`],
    };
  } finally {
    await daemon.dispose();
  }
}

/**
 * Pairs of tasks with overlapping touches whose times in flight (first start to finish) overlap. Sorted
 * by start, each task is compared with the ones still in flight when it started.
 */
function overlapsInFlight(tasks: readonly TaskRecord[]): number {
  const spans = tasks
    .filter((t) => t.startedAt !== undefined && t.finishedAt !== undefined)
    .map((t) => ({
      start: Date.parse(t.startedAt!),
      end: Date.parse(t.finishedAt!),
      touches: (t.touches ?? []).map((p) => p.split('/')),
    }))
    .sort((a, b) => a.start - b.start);
  let pairs = 0;
  let open: typeof spans = [];
  for (const span of spans) {
    // Times are whole milliseconds: one that ended in the millisecond another started handed over.
    open = open.filter((o) => o.end > span.start);
    for (const o of open) if (span.touches.some((a) => o.touches.some((b) => patternsOverlap(a, b)))) pairs++;
    open.push(span);
  }
  return pairs;
}
