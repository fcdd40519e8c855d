import type { FakeRequestRecord, RateLimits } from '@orc/test-support';

export type Dimension = 'requests' | 'input tokens' | 'output tokens';

/** How much of one model's limit in one dimension a span of requests used. */
export interface LimitUse {
  model: string;
  dimension: Dimension;
  used: number;
  /** What the limit allowed in the span: a full bucket at its start, and what refilled during it. */
  allowed: number;
  ratio: number;
}

/**
 * Each model's use of each of its limits over [from, to]: requests and input (cache writes included,
 * reads not) are charged as they arrive, output as answers end, as the stand-in charges them. A token
 * bucket that starts full allows at most limit × (1 + span ÷ minute) in a span, so a ratio of 1 is
 * everything the limit let through; the limit that binds is the one used the most.
 */
export function limitUse(
  log: readonly FakeRequestRecord[],
  limits: RateLimits,
  from: number,
  to: number,
  only: (record: FakeRequestRecord) => boolean = () => true,
): LimitUse[] {
  const minuteMs = limits.minuteMs ?? 60_000;
  const spanMinutes = Math.max(0, to - from) / minuteMs;
  const inSpan = (at: number | undefined) => at !== undefined && at >= from && at <= to;
  const uses: LimitUse[] = [];
  for (const model of new Set(log.map((r) => r.model))) {
    const records = log.filter((r) => r.model === model && r.status === 200 && only(r));
    const dimensions: [Dimension, number | undefined, number][] = [
      ['requests', limits.requestsPerMinute, records.filter((r) => inSpan(r.at)).length],
      [
        'input tokens',
        limits.inputTokensPerMinute,
        records.filter((r) => inSpan(r.at)).reduce((n, r) => n + r.inputTokens, 0),
      ],
      [
        'output tokens',
        limits.outputTokensPerMinute,
        records.filter((r) => inSpan(r.endedAt)).reduce((n, r) => n + r.outputTokens, 0),
      ],
    ];
    for (const [dimension, limit, used] of dimensions) {
      if (limit === undefined) continue;
      const allowed = limit * (1 + spanMinutes);
      uses.push({ model, dimension, used, allowed, ratio: used / allowed });
    }
  }
  return uses;
}

/** The limit used the most: the one that binds. */
export function bindingUse(uses: readonly LimitUse[]): LimitUse | undefined {
  return [...uses].sort((a, b) => b.ratio - a.ratio)[0];
}

export function describeUse(use: LimitUse): string {
  return `${use.model} ${use.dimension}: ${Math.round(use.used).toLocaleString('en-US')} of ${Math.round(use.allowed).toLocaleString('en-US')}`;
}

/** 429 answers per 1,000 requests. */
export function refusedPerThousand(log: readonly FakeRequestRecord[]): number {
  if (log.length === 0) return 0;
  return (1000 * log.filter((r) => r.status === 429).length) / log.length;
}
