import type { Attempt } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { attemptMs } from './format.js';

const start = '2026-01-01T00:00:00.000Z';
const now = Date.parse(start) + 60_000;
const attempt = (outcome: Attempt['outcome'], endedAt?: string) => ({ startedAt: start, outcome, endedAt });

describe('attemptMs', () => {
  it('counts to the end, or to now while the attempt runs', () => {
    expect(attemptMs(attempt('succeeded', '2026-01-01T00:00:01.500Z'), now)).toBe(1_500);
    expect(attemptMs(attempt('running'), now)).toBe(60_000);
  });

  it('has no time for an attempt that stopped with no end on record, rather than one that grows for ever', () => {
    expect(attemptMs(attempt('interrupted'), now)).toBeUndefined();
  });
});
