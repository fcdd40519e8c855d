import { startBenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
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
      timeoutMs: ctx.quick ? 60_000 : 300_000,
      pollMs: 10,
      until: (s) => doneCount(s) >= size / 2 || s.status !== 'executing',
    });
    before.unsubscribe();
    const seenDone = new Set(completed);
    await daemon.kill();
    ctx.log(`recovery: killed the daemon with ${seenDone.size} completions seen`);

    const restartAt = Date.now();
    const client = await daemon.restart();
    const readyMs = Date.now() - restartAt;
    const restored = await client.trpc.runs.get.query({ runId: run.id });
    const notDone = restored.tasks.filter((t) => seenDone.has(t.id) && t.status !== 'done').length;

    // Wait for the first dispatch after the restart, then for the run to finish.
    const reassigned = new Set<string>();
    let resumedAt: number | undefined;
    const after = client.trpc.runs.events.subscribe(
      { runId: run.id, lastEventId: lastSeen },
      {
        onData: ({ data }) => {
          const event = data;
          if (event.type !== 'task.assigned' || Date.parse(event.at) < restartAt) return;
          resumedAt ??= Date.parse(event.at);
          reassigned.add(event.taskId);
        },
      },
    );
    const summary = await waitForRun(client, run.id, { timeoutMs: ctx.quick ? 60_000 : 300_000 });
    after.unsubscribe();
    const rerun = [...seenDone].filter((id) => reassigned.has(id)).length;
    const lost = Math.max(notDone, rerun);
    return {
      name: 'recovery',
      metrics: [
        {
          label: 'restart until dispatch resumes',
          value: resumedAt === undefined ? NaN : resumedAt - restartAt,
          unit: 'ms',
          target: { op: '<=', value: 2000 },
        },
        { label: 'finished results lost', value: lost, unit: '', target: { op: '<=', value: 0 } },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed: failedCount(summary) },
      lost,
      seconds: elapsedSince(started),
      notes: [
        `killed at ${seenDone.size} of ${size} completions seen; daemon answering after ${readyMs} ms; ` +
          `${notDone} seen-done tasks not done after restart, ${rerun} run again`,
      ],
    };
  } finally {
    await daemon.dispose();
  }
}
