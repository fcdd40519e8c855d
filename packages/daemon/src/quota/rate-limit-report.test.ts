import { describe, expect, it } from 'vitest';
import { readRateLimitHeaders } from './rate-limit-report.js';

const AT = Date.parse('2026-11-30T10:00:00.000Z');

describe('readRateLimitHeaders', () => {
  it('reads each bucket the API reports, and retry-after', () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2026-11-30T10:00:02Z',
      'anthropic-ratelimit-input-tokens-limit': '40000',
      'anthropic-ratelimit-input-tokens-remaining': '38000',
      'anthropic-ratelimit-input-tokens-reset': '2026-11-30T10:00:03.000Z',
      'anthropic-ratelimit-output-tokens-limit': '8000',
      // A bucket missing a header is left out.
      'anthropic-ratelimit-output-tokens-remaining': '8000',
      'retry-after': '7',
    });
    expect(readRateLimitHeaders(headers, AT)).toEqual({
      at: AT,
      buckets: {
        requests: { limit: 50, remaining: 49, resetAt: AT + 2000 },
        'input-tokens': { limit: 40000, remaining: 38000, resetAt: AT + 3000, precise: true },
      },
      retryAfterMs: 7000,
    });
  });

  it('takes a reset in seconds from now, as some compatible servers send it, and says nothing without headers', () => {
    const headers = new Headers({
      'anthropic-ratelimit-tokens-limit': '1000',
      'anthropic-ratelimit-tokens-remaining': '1200',
      'anthropic-ratelimit-tokens-reset': '30',
    });
    expect(readRateLimitHeaders(headers, AT)?.buckets.tokens).toEqual({
      limit: 1000,
      remaining: 1000,
      resetAt: AT + 30_000,
    });
    expect(readRateLimitHeaders(new Headers({ 'content-type': 'application/json' }), AT)).toBeUndefined();
    expect(readRateLimitHeaders(undefined, AT)).toBeUndefined();
  });
});
