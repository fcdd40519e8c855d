import type { OrcEvent } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { RecentEvents } from './recent-events.js';

const events = (from: number, count: number): OrcEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    id: from + i,
    type: 'run.resumed',
    runId: 'r1',
    at: '2026-11-30T00:00:00.000Z',
  }));

describe('RecentEvents', () => {
  it('gives the events after an id it still keeps', () => {
    const recent = new RecentEvents();
    recent.reset(10);
    recent.add(events(11, 5));
    expect(recent.after(13)?.map((e) => e.id)).toEqual([14, 15]);
    expect(recent.after(9)).toBeUndefined();
  });

  it('keeps the last 20,000 of a batch larger than that, and says which it dropped', () => {
    const recent = new RecentEvents();
    recent.reset(0);
    recent.add(events(1, 10));
    // A spread of 300,000 arguments overflowed the call stack.
    recent.add(events(11, 300_000));
    expect(recent.after(280_009)).toBeUndefined();
    expect(recent.after(280_010)?.length).toBe(20_000);
    expect(recent.after(300_008)?.map((e) => e.id)).toEqual([300_009, 300_010]);
  });
});
