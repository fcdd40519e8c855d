import { parseRetryAfter } from '../model/retry-after.js';

/**
 * The limits the Anthropic API reports on every answer, one token bucket each: requests, input tokens,
 * output tokens, and `tokens` (the most restrictive token limit, sent by accounts without the split).
 */
export const QUOTA_DIMENSIONS = ['requests', 'input-tokens', 'output-tokens', 'tokens'] as const;
export type QuotaDimension = (typeof QUOTA_DIMENSIONS)[number];

/** One bucket as an answer saw it: its size, what is left now, and when it is full again (epoch ms). */
export interface BucketReading {
  limit: number;
  remaining: number;
  resetAt: number;
  /** The reset was given to the millisecond; the API's own are to the second. */
  precise?: boolean;
}

/** What one answer's headers said about the quota. */
export interface RateLimitReport {
  /** When the answer arrived (epoch ms). */
  at: number;
  buckets: Partial<Record<QuotaDimension, BucketReading>>;
  /** `retry-after` (a 429 or 529 says how long to wait). */
  retryAfterMs?: number;
}

interface Headers {
  get(name: string): string | null;
}

/**
 * The `anthropic-ratelimit-<dimension>-limit|remaining|reset` headers (reset in RFC 3339, or seconds
 * from now as some compatible servers send) and `retry-after`. A bucket missing any of its three
 * headers is left out; undefined when the answer said nothing about the quota.
 */
export function readRateLimitHeaders(headers: Headers | undefined, at: number): RateLimitReport | undefined {
  if (!headers) return undefined;
  const buckets: RateLimitReport['buckets'] = {};
  for (const dimension of QUOTA_DIMENSIONS) {
    const limit = number(headers.get(`anthropic-ratelimit-${dimension}-limit`));
    const remaining = number(headers.get(`anthropic-ratelimit-${dimension}-remaining`));
    const reset = headers.get(`anthropic-ratelimit-${dimension}-reset`);
    const resetAt = instant(reset, at);
    if (limit === undefined || remaining === undefined || resetAt === undefined || limit <= 0) continue;
    const precise = /\.\d{3}/.test(reset ?? '');
    buckets[dimension] = {
      limit,
      remaining: Math.min(remaining, limit),
      resetAt,
      ...(precise && { precise }),
    };
  }
  const retryAfterMs = parseRetryAfter(headers, at);
  if (Object.keys(buckets).length === 0 && retryAfterMs === undefined) return undefined;
  return { at, buckets, ...(retryAfterMs !== undefined && { retryAfterMs }) };
}

function number(text: string | null): number | undefined {
  if (text === null || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function instant(text: string | null, now: number): number | undefined {
  if (text === null || text.trim() === '') return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return now + Math.max(0, seconds) * 1000;
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : parsed;
}
