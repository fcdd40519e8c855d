import { describe, expect, it } from 'vitest';
import { quantile } from './vitals-of.js';

describe('quantile', () => {
  it('interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    // 10 in (0, 0.01], 10 more in (0.01, 0.1]
    const bounds: [number, number][] = [
      [0.01, 10],
      [0.1, 20],
      [Number.POSITIVE_INFINITY, 20],
    ];
    expect(quantile(0.5, bounds, 20)).toBeCloseTo(0.01);
    expect(quantile(0.25, bounds, 20)).toBeCloseTo(0.005);
    expect(quantile(0.75, bounds, 20)).toBeCloseTo(0.055);
  });

  it('gives the highest finite bound for ranks in +Inf, and 0 for no observations', () => {
    const bounds: [number, number][] = [
      [1, 1],
      [Number.POSITIVE_INFINITY, 2],
    ];
    expect(quantile(0.99, bounds, 2)).toBe(1);
    expect(quantile(0.99, [], 0)).toBe(0);
  });
});
