import { describe, expect, it } from 'vitest';
import { QuotaBucket } from './quota-bucket.js';

const AT = 1_000_000;

describe('QuotaBucket', () => {
  it('refills continuously up to its size, and takes charges at their times', () => {
    // 600 a minute: 10 a second.
    const bucket = new QuotaBucket({ limit: 600, remaining: 0, resetAt: AT + 60_000 }, AT);
    expect(bucket.level(AT + 1_000)).toBeCloseTo(10);
    expect(bucket.level(AT + 120_000)).toBe(600);
    // A charge of 100 at 5 s, while it had 50: 50 − 100 + 10 a second after.
    expect(bucket.level(AT + 10_000, [{ at: AT + 5_000, amount: 100 }])).toBeCloseTo(0);
    // Refill before a charge is capped at the size first.
    expect(bucket.level(AT + 90_000, [{ at: AT + 80_000, amount: 600 }])).toBeCloseTo(100);
  });

  it('measures how fast a server refills from its readings (a short "minute")', () => {
    // A stand-in whose minute is 10 s: 100 of 1,000 taken, full again in 1 s. The remaining count is
    // rounded down, so the fill is taken as a little longer: 99 (not 100) refilled in that second.
    const bucket = new QuotaBucket({ limit: 1000, remaining: 900, resetAt: AT + 1000, precise: true }, AT);
    expect(bucket.fillTimeMs).toBeCloseTo(10_101, 0);
    expect(bucket.rate).toBeCloseTo(0.099, 3);
  });

  it('keeps the API minute when a reading cannot tell: to the second and close, or an empty bucket', () => {
    const bucket = new QuotaBucket({ limit: 1000, remaining: 900, resetAt: AT + 1000 }, AT);
    expect(bucket.fillTimeMs).toBe(60_000);
    bucket.observe({ limit: 1000, remaining: 0, resetAt: AT + 5000, precise: true }, AT);
    expect(bucket.fillTimeMs).toBe(60_000);
    // The fill time is measured from when the call was sent: never shorter than the truth.
    bucket.observe({ limit: 1000, remaining: 500, resetAt: AT + 30_000 }, AT + 500, AT);
    expect(bucket.fillTimeMs).toBeCloseTo((30_000 * 1000) / 499, 3);
  });
});
