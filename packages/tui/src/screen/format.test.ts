import type { Attempt } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { attemptMs, formatDuration, plural } from './format.js';

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

describe('formatDuration', () => {
  it('gives tenths under a second, whole seconds from there', () => {
    expect([0, 30, 440, 949, 950, 999, 1000, 1999, 61_000].map(formatDuration)).toEqual([
      '0s',
      '<0.1s',
      '0.4s',
      '0.9s',
      '1s',
      '1s',
      '1s',
      '1s',
      '1m01s',
    ]);
  });
});

describe('plural', () => {
  it('says one thing in the singular and every other count in the plural', () => {
    expect([0, 1, 2].map((n) => plural(n, 'attempt'))).toEqual(['0 attempts', '1 attempt', '2 attempts']);
    expect(plural(1, 'interrupted task runs', 'interrupted tasks run')).toBe('1 interrupted task runs');
    expect(plural(3, 'interrupted task runs', 'interrupted tasks run')).toBe('3 interrupted tasks run');
  });
});
