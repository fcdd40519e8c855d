import { describe, expect, it } from 'vitest';
import { ceilCost, costFigure, formatCost } from './cost.js';

describe('formatCost', () => {
  it('gives three places, two from $10, and two significant digits below a cent, cut', () => {
    expect([formatCost(0.1234), formatCost(12.5), formatCost(5), formatCost(0.05)]).toEqual([
      '$0.123',
      '$12.50',
      '$5.00',
      '$0.05',
    ]);
    // A cost under a cap never reads as the cap ($0.001).
    expect([0.0006, 0.00064, 0.000999, 0.0000123, 0, 0.29, 0.0199].map(formatCost)).toEqual([
      '$0.0006',
      '$0.00064',
      '$0.00099',
      '$0.000012',
      '$0.00',
      '$0.29',
      '$0.019',
    ]);
    expect(costFigure(0.0042)).toBe('0.0042');
  });

  it('rounds an amount up to the figure it shows whole', () => {
    expect([0.00401, 0.0042, 0.00051, 0.01231, 0.00999, 12.341].map(ceilCost)).toEqual([
      0.0041, 0.0042, 0.00051, 0.013, 0.01, 12.35,
    ]);
    // What the text shows is the amount itself, so a command given the shown figure sets it.
    for (const usd of [0.00401, 0.00051, 0.01231, 0.00999, 0.29, 3.0001])
      expect(Number(costFigure(ceilCost(usd)))).toBe(ceilCost(usd));
  });
});
