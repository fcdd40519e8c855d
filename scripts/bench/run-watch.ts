import type { OrcClient } from '@orc/daemon/client';
import type { RunSummary } from '@orc/shared';
import { sleep } from './bench-daemon.js';

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/**
 * Polls `runs.list` (summaries only: cheap even for a 10,000-task run, and no subscription load on the
 * daemon being measured) until the run finishes or pauses for a person. Resolves with the last summary.
 */
export async function waitForRun(
  client: OrcClient,
  runId: string,
  options: { timeoutMs: number; pollMs?: number; until?: (summary: RunSummary) => boolean },
): Promise<RunSummary> {
  const deadline = Date.now() + options.timeoutMs;
  const until =
    options.until ??
    ((s: RunSummary) =>
      FINISHED.has(s.status) ||
      (s.status === 'paused' && s.pauseReason !== 'user' && s.pauseReason !== 'rollback'));
  for (;;) {
    const summary = (await client.trpc.runs.list.query()).find((r) => r.id === runId);
    if (!summary) throw new Error(`run ${runId} is not in runs.list`);
    if (until(summary)) return summary;
    if (Date.now() > deadline) {
      throw new Error(
        `run ${runId} did not finish within ${options.timeoutMs} ms (status ${summary.status}, ${JSON.stringify(summary.taskCounts)})`,
      );
    }
    await sleep(options.pollMs ?? 50);
  }
}

export function doneCount(summary: RunSummary): number {
  return summary.taskCounts['done'] ?? 0;
}

export function failedCount(summary: RunSummary): number {
  return summary.taskCounts['failed'] ?? 0;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
