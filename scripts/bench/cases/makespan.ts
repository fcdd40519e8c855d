import type { RunView } from '@orc/shared';
import { startBenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, criticalPath, levelByLevelMakespan, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

const WORKERS = 16;

/**
 * A seeded random DAG on 16 workers. The simulated model draws each call's latency from the seed and the
 * prompt; a task is a work call and a review call of 10–100 ms each, so 20–200 ms in all. The bound and
 * the level-by-level schedule are computed from the durations the run actually had.
 */
export async function makespanCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const tasks = randomDag({ ...DEFAULT_DAG, tasks: ctx.quick ? 200 : 1000 });
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    const run = await daemon.client.trpc.runs.start.mutate({
      tasks,
      source: 'bench makespan',
      config: {
        execution: { max_workers: WORKERS },
        simulated: { seed: DEFAULT_DAG.seed, latency_ms: { min: 10, max: 100 } },
      },
    });
    ctx.log(`makespan: run ${run.id}, ${tasks.length} tasks`);
    const summary = await waitForRun(daemon.client, run.id, { timeoutMs: ctx.quick ? 60_000 : 300_000 });
    // Every task's times: the whole run, not the first page.
    const view = await daemon.client.trpc.runs.get.query({ runId: run.id, full: true });
    const figures = measure(view);
    const notes = [
      `makespan ${figures.makespanMs} ms; critical path ${figures.criticalPathMs} ms; work ÷ ${WORKERS} = ${Math.round(figures.workMs / WORKERS)} ms; level by level ${Math.round(figures.levelByLevelMs)} ms`,
    ];
    if (figures.retried > 0) notes.push(`${figures.retried} tasks needed more than one attempt`);
    return {
      name: 'makespan',
      metrics: [
        {
          label: 'makespan ÷ max(critical path, work ÷ workers)',
          value: figures.makespanMs / figures.boundMs,
          unit: '×',
          target: { op: '<=', value: 1.05 },
        },
        {
          label: 'shorter than level by level',
          value: (1 - figures.makespanMs / figures.levelByLevelMs) * 100,
          unit: '%',
          target: { op: '>=', value: 15 },
        },
        { label: 'makespan', value: figures.makespanMs / 1000, unit: 's' },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed: failedCount(summary) },
      lost: 0,
      seconds: elapsedSince(started),
      notes,
    };
  } finally {
    await daemon.dispose();
  }
}

/** Each task occupies its worker from dispatch (its last attempt's start) until its review is in. */
function measure(view: RunView) {
  const duration = new Map<string, number>();
  let first = Infinity;
  let last = -Infinity;
  let retried = 0;
  for (const task of view.tasks) {
    const attempt = task.attempts.at(-1);
    if (!attempt || task.finishedAt === undefined) continue;
    if (task.attempts.length > 1) retried++;
    const start = Date.parse(attempt.startedAt);
    const end = Date.parse(task.finishedAt);
    duration.set(task.id, end - start);
    first = Math.min(first, Date.parse(task.attempts[0]!.startedAt));
    last = Math.max(last, end);
  }
  const workMs = [...duration.values()].reduce((sum, d) => sum + d, 0);
  const criticalPathMs = criticalPath(view.tasks, duration);
  return {
    makespanMs: last - first,
    criticalPathMs,
    workMs,
    boundMs: Math.max(criticalPathMs, workMs / WORKERS),
    levelByLevelMs: levelByLevelMakespan(view.tasks, duration, WORKERS),
    retried,
  };
}
