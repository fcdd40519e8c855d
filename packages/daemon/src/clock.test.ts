import { describe, expect, it } from 'vitest';
import { isoAt, type Clock } from './clock.js';

const at = (ms: number): Clock => ({ now: () => ms, sleep: () => Promise.resolve() });

describe('isoAt', () => {
  it('formats each millisecond, reused or not, and follows a clock that goes back', () => {
    expect(isoAt(at(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(isoAt(at(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(isoAt(at(1_700_000_000_123))).toBe('2023-11-14T22:13:20.123Z');
    expect(isoAt(at(1_700_000_000_124))).toBe('2023-11-14T22:13:20.124Z');
    expect(isoAt(at(5))).toBe('1970-01-01T00:00:00.005Z');
  });
});
