import { taskWorkMs, type Attempt, type RunSummary, type TaskRecord } from '@orc/shared';

/**
 * Durations as people read them on a status line: 45s, 12m05s, 3h07m; under a second in tenths (0.4s,
 * <0.1s), since a simulated or cached attempt that took 400 ms read "0s", as if it had not run.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms > 0 && ms < 1000) {
    if (ms < 50) return '<0.1s';
    // 950 ms and over rounds to a whole second: "1s", as a second and more reads, not "1.0s".
    const tenths = Math.round(ms / 100);
    return tenths < 10 ? `0.${tenths}s` : '1s';
  }
  const total = Math.floor(ms / 1000);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

export { plural } from '@orc/shared';

/** Token counts in at most five characters: 950, 12.3k, 4.56M. */
export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${trim(n / 1000)}k`;
  return `${trim(n / 1_000_000)}M`;
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Dollars as every text a user reads gives them: one format, the daemon's texts too. */
export { formatCost } from '@orc/shared';

/** `[#####.....] 50%` in exactly `width` cells (the bar takes what the label leaves). */
export function progressBar(done: number, total: number, width: number): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const label = ` ${Math.floor(ratio * 100)}%`;
  const inner = Math.max(0, width - label.length - 2);
  const filled = Math.round(ratio * inner);
  return `[${'█'.repeat(filled)}${'░'.repeat(inner - filled)}]${label}`;
}

/**
 * A task's time as every surface shows it (`orc show`, the report, the screen): the time its attempts
 * worked (`taskWorkMs`), not first start to end, which counted reviews, pauses and rollbacks; undefined
 * before its first attempt.
 */
export function taskTimeMs(task: Pick<TaskRecord, 'attempts'>, now: number): number | undefined {
  return task.attempts.length === 0 ? undefined : taskWorkMs(task, now);
}

/**
 * How long an attempt worked: to its end, or to now while it runs; undefined for one that stopped with no
 * end on record (taken back by a rollback while in flight), which would otherwise grow for ever.
 */
export function attemptMs(
  a: Pick<Attempt, 'startedAt' | 'endedAt' | 'outcome'>,
  now: number,
): number | undefined {
  if (a.endedAt === undefined && a.outcome !== 'running') return undefined;
  return elapsedMs(a.startedAt, a.endedAt, now);
}

/** Time between two ISO instants, or until `now` when the second is missing. */
function elapsedMs(from: string | undefined, to: string | undefined, now: number): number | undefined {
  if (from === undefined) return undefined;
  const start = Date.parse(from);
  const end = to === undefined ? now : Date.parse(to);
  return Number.isNaN(start) || Number.isNaN(end) ? undefined : Math.max(0, end - start);
}

/** `5/10 done · 2 running · 1 failed`: done out of all, then every other state a task is in. */
export function taskCountsText(view: Pick<RunSummary, 'taskCounts' | 'taskTotal'>): string {
  const c = view.taskCounts;
  const parts = [`${c.done ?? 0}/${view.taskTotal} done`];
  for (const status of [
    'running',
    'reviewing',
    'ready',
    'failed',
    'blocked',
    'skipped',
    'cancelled',
  ] as const) {
    const n = c[status] ?? 0;
    if (n > 0) parts.push(`${n} ${status}`);
  }
  return parts.join(' · ');
}
