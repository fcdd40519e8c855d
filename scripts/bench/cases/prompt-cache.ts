import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { elapsedSince, type CaseContext } from './case-context.js';
import { describedTasks, limitedSetup } from './rate-limit.js';

const TASKS = 50;

/**
 * A 50-task plan through the `anthropic` provider against the stand-in, which caches a marked prefix as
 * the API does. Every worker call carries the run's stable prefix (role, goal, the plan) before its task:
 * after the first call writes it, the worker's input should come mostly from the cache.
 */
export async function promptCacheCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const { server, daemon } = await limitedSetup(ctx, {});
  try {
    const run = await daemon.client.trpc.runs.start.mutate({
      tasks: describedTasks(TASKS, 'Cached'),
      source: 'bench prompt cache',
      config: { models: { provider: 'anthropic', base_url: server.url }, execution: { max_workers: 16 } },
    });
    const summary = await waitForRun(daemon.client, run.id, { timeoutMs: 120_000, pollMs: 100 });
    const work = server.log.filter((r) => r.model === summary.models.worker.model && r.status === 200);
    const afterFirst = work.slice(1);
    const read = afterFirst.reduce((n, r) => n + r.cacheReadTokens, 0);
    const input = afterFirst.reduce((n, r) => n + r.inputTokens + r.cacheReadTokens, 0);
    const { usage } = summary;
    const runInput = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
    const failed = failedCount(summary);
    return {
      name: 'prompt cache',
      metrics: [
        {
          label: 'worker input read from cache, after the first call',
          value: input === 0 ? 0 : (100 * read) / input,
          unit: '%',
          target: { op: '>=', value: 70 },
        },
        {
          label: 'the run’s input read from cache, every call',
          value: runInput === 0 ? 0 : (100 * usage.cacheReadTokens) / runInput,
          unit: '%',
        },
        {
          label: 'worker calls that wrote the prefix',
          value: work.filter((r) => r.cacheWriteTokens > 0).length,
          unit: '',
        },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [
        `${work.length} worker calls; the prefix is ${work[0]?.cacheWriteTokens ?? 0} tokens; run ${summary.status}, cost $${summary.costUsd.toFixed(4)}`,
      ],
    };
  } finally {
    await daemon.dispose();
    await server.close();
  }
}
