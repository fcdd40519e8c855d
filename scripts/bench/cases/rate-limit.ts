import { startFakeAnthropicServer } from '@orc/test-support';
import { startBenchDaemon } from '../bench-daemon.js';
import { flatTasks } from '../dag.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

/** 600 requests a minute, enforced over a shorter sliding window so a run of a minute or so spans many. */
const LIMIT_PER_MINUTE = 600;
const SAMPLE_MS = 20;

/**
 * The `anthropic` provider against the fake Anthropic server, which answers 429 with `retry-after` past
 * 600 requests a minute (a sliding window of 10 s holding 100; 2 s holding 20 in a quick run). 16
 * workers could send far more, so the limit binds the whole run. Achieved rate: successful requests in
 * whole windows from the first one, over what the limit allows in them.
 */
export async function rateLimitCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const windowMs = ctx.quick ? 2_000 : 10_000;
  const perWindow = (LIMIT_PER_MINUTE * windowMs) / 60_000;
  // Two calls per task (work, review): enough tasks to keep the limit busy for ~6 s quick, ~75 s full.
  const taskCount = ctx.quick ? 30 : 375;
  const server = await startFakeAnthropicServer({
    rateLimitPerMinute: perWindow,
    rateLimitWindowMs: windowMs,
    latencyMs: [50, 150],
  });
  const samples: { at: number; ok: number }[] = [];
  const sampler = setInterval(
    () => samples.push({ at: Date.now(), ok: server.statusCounts[200] ?? 0 }),
    SAMPLE_MS,
  );
  const daemon = await startBenchDaemon(
    daemonOptions(ctx, { ANTHROPIC_API_KEY: 'sk-ant-bench-0000000000000000000000' }),
  ).catch(async (error: unknown) => {
    clearInterval(sampler);
    await server.close();
    throw error;
  });
  try {
    const run = await daemon.client.trpc.runs.start.mutate({
      tasks: flatTasks(taskCount, 'Rate-limited task'),
      source: 'bench rate limit',
      config: { models: { provider: 'anthropic', base_url: server.url }, execution: { max_workers: 16 } },
    });
    ctx.log(
      `rate limit: run ${run.id}, ${taskCount} tasks against ${perWindow} requests per ${windowMs / 1000} s`,
    );
    const summary = await waitForRun(daemon.client, run.id, {
      timeoutMs: ctx.quick ? 60_000 : 400_000,
      pollMs: 200,
    });
    clearInterval(sampler);
    samples.push({ at: Date.now(), ok: server.statusCounts[200] ?? 0 });
    const rate = achievedRate(samples, windowMs, perWindow);
    const failed = failedCount(summary);
    return {
      name: 'rate limit',
      metrics: [
        {
          label: 'achieved request rate ÷ limit',
          value: rate.ratio,
          unit: '×',
          target: { op: '>=', value: 0.9 },
        },
        { label: 'failed tasks', value: failed, unit: '', target: { op: '<=', value: 0 } },
        { label: '429 answers', value: server.statusCounts[429] ?? 0, unit: '' },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [
        `${rate.succeeded} successful requests in ${rate.windows} windows of ${windowMs / 1000} s (limit ${rate.windows * perWindow}); ` +
          `${server.requests.length} requests in all; run ${summary.status}`,
      ],
    };
  } finally {
    clearInterval(sampler);
    await daemon.dispose();
    await server.close();
  }
}

/**
 * Successful requests over whole windows starting at the first success: in any span of k windows a
 * sliding-window limit admits at most k × perWindow, so the ratio is at most 1 and the first burst does
 * not inflate it. Short runs (less than a window) use the span they have.
 */
function achievedRate(samples: { at: number; ok: number }[], windowMs: number, perWindow: number) {
  const first = samples.find((s) => s.ok > 0);
  const last = samples.at(-1);
  if (!first || !last) return { ratio: 0, succeeded: 0, windows: 0 };
  const windows = Math.max(1, Math.floor((last.at - first.at) / windowMs));
  const end = first.at + windows * windowMs;
  const atEnd = [...samples].reverse().find((s) => s.at <= end) ?? last;
  // The first sample already counts the requests that made it non-zero.
  const succeeded = atEnd.ok - (samples[samples.indexOf(first) - 1]?.ok ?? 0);
  return { ratio: succeeded / (windows * perWindow), succeeded, windows };
}
