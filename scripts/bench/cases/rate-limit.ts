import type { RunSummary, TaskSpecInput } from '@orc/shared';
import {
  startFakeAnthropicServer,
  type FakeAnthropicServer,
  type FakeRequestRecord,
  type RateLimits,
} from '@orc/test-support';
import { startBenchDaemon, type BenchDaemon } from '../bench-daemon.js';
import { bindingUse, describeUse, limitUse, refusedPerThousand } from '../limit-usage.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

/**
 * Per model, per stand-in "minute" (10 s; 2 s in a quick run). With the bench's prompts the manager's
 * input (each review reads a result) and the worker's output bind first, close to each other; requests
 * have room. The first calls also write each model's cached prefix (about 6,000 tokens), which input
 * limits count.
 */
export const BENCH_LIMITS: RateLimits = {
  requestsPerMinute: 120,
  inputTokensPerMinute: 12_000,
  outputTokensPerMinute: 8_000,
  minuteMs: 10_000,
};
/** A quick run's 60 tasks keep smaller limits busy for a few of its 2-second minutes. */
export const QUICK_LIMITS: RateLimits = {
  requestsPerMinute: 60,
  inputTokensPerMinute: 4_000,
  outputTokensPerMinute: 3_000,
  minuteMs: 2_000,
};

/** Tasks with descriptions of the length a plan has, so prompts and the cached plan are of real size. */
export function describedTasks(count: number, label: string): TaskSpecInput[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `t${String(i + 1).padStart(4, '0')}`,
    title: `${label} section ${i + 1}`,
    description: `Write section ${i + 1} of the field guide: cover its subject, give two worked examples and end with a short checklist.`,
  }));
}

/** The stand-in and a daemon with an API key pointed at it. */
export async function limitedSetup(
  ctx: CaseContext,
  limits: RateLimits,
  label?: (system: string) => string,
): Promise<{ server: FakeAnthropicServer; daemon: BenchDaemon }> {
  const server = await startFakeAnthropicServer({
    rateLimits: limits,
    latencyMs: [50, 150],
    ...(label && {
      label: (body) => label(JSON.stringify(body.system ?? '')),
    }),
  });
  const daemon = await startBenchDaemon(
    daemonOptions(ctx, { ANTHROPIC_API_KEY: 'sk-ant-bench-0000000000000000000000' }),
  ).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  return { server, daemon };
}

/**
 * The `anthropic` provider against the stand-in, which enforces requests, input tokens and output tokens
 * per minute per model as token buckets and sends the API's rate-limit headers. 16 workers could send far
 * more, so the limits bind the whole run: the governor should use what they allow (achieved rate over the
 * span the run kept them busy, from the first request to the last task's work) without being refused.
 * At half-way the run's forecast of its cost and finish is kept and compared with how it ended.
 */
export async function rateLimitCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const limits = ctx.quick ? QUICK_LIMITS : BENCH_LIMITS;
  const taskCount = ctx.quick ? 60 : 375;
  const { server, daemon } = await limitedSetup(ctx, limits);
  try {
    const run = await daemon.client.trpc.runs.start.mutate({
      tasks: describedTasks(taskCount, 'Rate-limited'),
      source: 'bench rate limit',
      config: { models: { provider: 'anthropic', base_url: server.url }, execution: { max_workers: 16 } },
    });
    ctx.log(`rate limit: run ${run.id}, ${taskCount} tasks against ${JSON.stringify(limits)}`);
    let halfWay: { at: number; summary: RunSummary } | undefined;
    const summary = await waitForRun(daemon.client, run.id, {
      timeoutMs: ctx.quick ? 90_000 : 600_000,
      pollMs: 200,
      until: (s) => {
        if (halfWay === undefined && doneCount(s) >= taskCount / 2) halfWay = { at: Date.now(), summary: s };
        return ['completed', 'failed', 'cancelled'].includes(s.status);
      },
    });
    const log = server.log;
    const from = log[0]?.at ?? started;
    const workModel = summary.models.worker.model;
    const to = log.filter((r) => r.model === workModel).at(-1)?.at ?? from;
    const binding = bindingUse(limitUse(log, limits, from, to));
    const forecast = forecastError(halfWay, summary);
    const failed = failedCount(summary);
    const health = await daemon.client.trpc.daemon.health.query();
    return {
      name: 'rate limit',
      metrics: [
        {
          label: 'achieved rate ÷ binding limit',
          value: binding?.ratio ?? 0,
          unit: '×',
          target: { op: '>=', value: 0.95 },
        },
        {
          label: '429 answers per 1,000 requests',
          value: refusedPerThousand(log),
          unit: '',
          target: { op: '<=', value: 5 },
        },
        { label: 'failed tasks', value: failed, unit: '', target: { op: '<=', value: 0 } },
        { label: 'cost forecast error at half-way', value: forecast.cost * 100, unit: '%' },
        { label: 'finish forecast error at half-way', value: forecast.finish * 100, unit: '% of run' },
        { label: 'input estimate error', value: health.quota.inputEstimateError * 100, unit: '%' },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [
        `binding: ${binding ? describeUse(binding) : 'none'} over ${((to - from) / 1000).toFixed(1)} s; ` +
          `${log.length} requests, ${server.statusCounts[429] ?? 0} answered 429; run ${summary.status}`,
        forecast.note,
        ...refusals(log),
      ],
    };
  } finally {
    await daemon.dispose();
    await server.close();
  }
}

/** Where the 429 answers fell, for whoever looks into them. */
function refusals(log: readonly FakeRequestRecord[]): string[] {
  const start = log[0]?.at ?? 0;
  const refused = log.filter((r) => r.status === 429);
  if (refused.length === 0) return [];
  const first = refused
    .slice(0, 5)
    .map((r) => `${r.model} at ${((r.at - start) / 1000).toFixed(2)} s (${r.inputTokens} input)`);
  return [`429 answers: ${first.join(', ')}${refused.length > 5 ? ', …' : ''}`];
}

/**
 * The forecast kept when half the tasks were done against the run's end: cost as a share of the final
 * cost, finish time as a share of the run's whole duration.
 */
function forecastError(
  halfWay: { at: number; summary: RunSummary } | undefined,
  end: RunSummary,
): { cost: number; finish: number; note: string } {
  const forecast = halfWay?.summary.forecast;
  if (!halfWay || !forecast || end.finishedAt === undefined)
    return { cost: Number.NaN, finish: Number.NaN, note: 'no forecast at half-way' };
  const finishedAt = Date.parse(end.finishedAt);
  const duration = finishedAt - Date.parse(end.createdAt);
  const cost = Math.abs(forecast.costUsd - end.costUsd) / end.costUsd;
  const finish =
    forecast.finishAt === undefined
      ? Number.NaN
      : Math.abs(Date.parse(forecast.finishAt) - finishedAt) / duration;
  return {
    cost,
    finish,
    note:
      `at half-way the forecast was $${forecast.costUsd.toFixed(4)}, finishing ${forecast.finishAt ?? '-'}; ` +
      `the run cost $${end.costUsd.toFixed(4)} and finished ${end.finishedAt}`,
  };
}
