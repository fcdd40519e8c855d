import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from './concurrency.js';

describe('AdaptiveLimit', () => {
  it('halves on a rate limit down to 1 and climbs back one step per success to the maximum', () => {
    const limit = new AdaptiveLimit(8);
    expect(limit.value).toBe(8);
    expect(limit.onRateLimited()).toBe(true);
    expect(limit.value).toBe(4);
    limit.onRateLimited();
    limit.onRateLimited();
    expect(limit.value).toBe(1);
    expect(limit.onRateLimited()).toBe(false);
    expect(limit.value).toBe(1);
    const steps: number[] = [];
    for (let i = 0; i < 10; i++) {
      limit.onSuccess();
      steps.push(limit.value);
    }
    expect(steps).toEqual([2, 3, 4, 5, 6, 7, 8, 8, 8, 8]);
    expect(limit.onSuccess()).toBe(false);
  });

  it('rounds a halved odd limit up and resets to the maximum', () => {
    const limit = new AdaptiveLimit(3);
    limit.onRateLimited();
    expect(limit.value).toBe(2);
    limit.reset();
    expect(limit.value).toBe(3);
  });
});
