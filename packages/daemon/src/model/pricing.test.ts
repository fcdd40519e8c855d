import { describe, expect, it } from 'vitest';
import { costOf } from './pricing.js';

describe('costOf', () => {
  it('prices cache reads at a tenth of input and writes at 1.25 × unless the table says otherwise', () => {
    const usage = {
      inputTokens: 1_000_000,
      outputTokens: 1_000_000,
      cacheReadTokens: 1_000_000,
      cacheWriteTokens: 1_000_000,
    };
    expect(costOf(usage, { input: 2, output: 10 })).toBeCloseTo(2 + 10 + 0.2 + 2.5);
    expect(costOf(usage, { input: 2, output: 10, cache_read: 0.5, cache_write: 3 })).toBeCloseTo(
      2 + 10 + 0.5 + 3,
    );
    expect(costOf(usage, undefined)).toBe(0);
  });
});
