import type { RunSummary } from '@orc/shared';
import { bindingUse, describeUse, limitUse, refusedPerThousand } from '../limit-usage.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount, waitForRun } from '../run-watch.js';
import { elapsedSince, type CaseContext } from './case-context.js';
import { BENCH_LIMITS, QUICK_LIMITS, describedTasks, limitedSetup } from './rate-limit.js';

const RUNS = ['run A', 'run B'] as const;

/**
 * Two runs at once on one daemon, sharing the stand-in's limits (the same key, the same models): the
 * governor takes their calls in turn, so while both have work each gets half of the limit that binds.
 * Each run's share is its use of that limit while both were busy (from the first request to the first
 * run's last work call), over half of what the two used together; 1 is a fair share.
 */
export async function sharedLimitCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const limits = ctx.quick ? QUICK_LIMITS : BENCH_LIMITS;
  const perRun = ctx.quick ? 40 : 250;
  const { server, daemon } = await limitedSetup(ctx, limits, (system) =>
    system.includes(RUNS[0]) ? RUNS[0] : system.includes(RUNS[1]) ? RUNS[1] : 'other',
  );
  try {
    const config = {
      models: { provider: 'anthropic' as const, base_url: server.url },
      execution: { max_workers: 16 },
    };
    const runs = await Promise.all(
      RUNS.map((name) =>
        daemon.client.trpc.runs.start.mutate({
          // The plan is in every prompt's prefix: its titles tell the stand-in which run sent a request.
          tasks: describedTasks(perRun, name),
          source: `bench shared limit ${name}`,
          config,
        }),
      ),
    );
    ctx.log(`shared limit: runs ${runs.map((r) => r.id).join(', ')}, ${perRun} tasks each`);
    const summaries: RunSummary[] = await Promise.all(
      runs.map((run) =>
        waitForRun(daemon.client, run.id, { timeoutMs: ctx.quick ? 120_000 : 900_000, pollMs: 250 }),
      ),
    );
    const log = server.log;
    const workModel = summaries[0]!.models.worker.model;
    const from = log[0]?.at ?? started;
    // Both runs had work until the first of them sent its last task's work.
    const to = Math.min(
      ...RUNS.map((name) => log.filter((r) => r.label === name && r.model === workModel).at(-1)?.at ?? from),
    );
    const together = bindingUse(limitUse(log, limits, from, to));
    const shares = RUNS.map((name) => {
      const own = limitUse(log, limits, from, to, (r) => r.label === name).find(
        (use) => use.model === together?.model && use.dimension === together.dimension,
      );
      return together && own ? own.used / (together.used / 2) : 0;
    });
    const failed = summaries.reduce((n, s) => n + failedCount(s), 0);
    return {
      name: 'shared limit',
      metrics: [
        {
          label: 'achieved rate ÷ binding limit, both runs',
          value: together?.ratio ?? 0,
          unit: '×',
          target: { op: '>=', value: 0.95 },
        },
        ...RUNS.map((name, i) => ({
          label: `${name}: its share ÷ a fair share`,
          value: shares[i]!,
          unit: '×',
        })),
        {
          label: 'furthest share from fair',
          value: Math.max(...shares.map((s) => Math.abs(s - 1))) * 100,
          unit: '%',
          target: { op: '<=' as const, value: 10 },
        },
        {
          label: '429 answers per 1,000 requests',
          value: refusedPerThousand(log),
          unit: '',
          target: { op: '<=', value: 5 },
        },
        { label: 'failed tasks', value: failed, unit: '', target: { op: '<=', value: 0 } },
      ],
      tasks: {
        total: summaries.reduce((n, s) => n + s.taskTotal, 0),
        done: summaries.reduce((n, s) => n + doneCount(s), 0),
        failed,
      },
      lost: 0,
      seconds: elapsedSince(started),
      notes: [
        `binding: ${together ? describeUse(together) : 'none'} over ${((to - from) / 1000).toFixed(1)} s with both runs busy; ` +
          `${log.length} requests, ${server.statusCounts[429] ?? 0} answered 429; runs ${summaries.map((s) => s.status).join(', ')}`,
      ],
    };
  } finally {
    await daemon.dispose();
    await server.close();
  }
}
