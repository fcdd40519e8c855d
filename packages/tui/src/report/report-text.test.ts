import type { RunReport } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { failuresText } from './report-text.js';

const report = (failed: number, failures: RunReport['failures']) => ({
  taskCounts: { failed },
  failureRate: failed / 4,
  failures,
});

describe('failuresText', () => {
  it('tells what became of each earlier failure, in the singular for one', () => {
    expect(failuresText(report(0, { count: 1, since: 1 }))).toBe(
      '0 tasks failed (failure rate 0%); 1 earlier failure, of a task since retried or rolled back (in the reasons)',
    );
    // One retried, one skipped: not "2 earlier failures of tasks retried or rolled back since".
    expect(failuresText(report(1, { count: 3, since: 2, skipped: 1, cancelled: 0 }))).toBe(
      '1 task failed (failure rate 25%); 2 earlier failures, of tasks since retried or rolled back (1) or skipped (1) (in the reasons)',
    );
    expect(failuresText(report(0, { count: 2, since: 2, skipped: 2, cancelled: 0 }))).toBe(
      '0 tasks failed (failure rate 0%); 2 earlier failures, of tasks since skipped (in the reasons)',
    );
    expect(failuresText(report(1, { count: 1, since: 0 }))).toBe('1 task failed (failure rate 25%)');
  });
});
