import { describe, expect, it } from 'vitest';
import { CACHE_TTL_MS, PrefixCache, minimumCacheableTokens } from './prefix-cache.js';

describe('PrefixCache', () => {
  it('is written by the first call, readable once its answer begins, and forgotten five minutes after its last use', () => {
    const cache = new PrefixCache();
    expect(cache.state('p', 0)).toBe('absent');
    cache.sent('p', 1, 0);
    expect(cache.state('p', 0)).toBe('writing');
    cache.sent('p', 2, 10); // a second call while it is written writes it too, and waits not
    cache.answered('p', 2, 20); // not the writer: nothing changes
    expect(cache.state('p', 20)).toBe('writing');
    cache.answered('p', 1, 50);
    expect(cache.state('p', 50)).toBe('cached');
    cache.sent('p', 3, 100); // a read keeps it
    expect(cache.state('p', 100 + CACHE_TTL_MS)).toBe('cached');
    expect(cache.state('p', 101 + CACHE_TTL_MS)).toBe('absent');
  });

  it('lets the next call write when the writer failed, and knows each model’s minimum', () => {
    const cache = new PrefixCache();
    cache.sent('p', 1, 0);
    cache.failed('p', 1);
    expect(cache.state('p', 0)).toBe('absent');
    expect(minimumCacheableTokens('claude-sonnet-5-5')).toBe(1024);
    expect(minimumCacheableTokens('claude-haiku-4-5')).toBe(2048);
  });
});
