import type { OrcEvent } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { EventBatchText } from './event-batch-text.js';
import { RecentBatches } from './recent-batches.js';

/** A batch of the events `from`..`to` (only their ids matter here). */
function batch(from: number, to: number): EventBatchText {
  const events: OrcEvent[] = [];
  for (let id = from; id <= to; id++)
    events.push({ id, runId: 'r1', at: '2026-01-01T00:00:00.000Z', type: 'run.status', status: 'executing' });
  return EventBatchText.of(
    events,
    events.map((e) => JSON.stringify(e)),
    1,
  );
}

describe('RecentBatches', () => {
  it('finds the batch holding the first event after an id, and nothing when caught up', () => {
    const recent = new RecentBatches();
    const batches = [batch(1, 3), batch(4, 4), batch(5, 9)];
    recent.add(batches, 100);
    expect(recent.after(0, 9)).toEqual(batches);
    expect(recent.after(3, 9)![0]).toBe(batches[1]);
    expect(recent.after(4, 9)![0]).toBe(batches[2]);
    expect(recent.after(6, 9)![0]).toBe(batches[2]);
    expect(recent.after(9, 9)).toEqual([]);
  });

  it('keeps about its limit of events, dropping whole batches from the front, and says when it no longer has them', () => {
    const recent = new RecentBatches();
    for (let i = 0; i < 30; i++) recent.add([batch(i * 3 + 1, i * 3 + 3)], 10);
    const kept = recent.after(80, 90)!;
    expect(kept.map((b) => b.firstId)).toEqual([79, 82, 85, 88]);
    expect(recent.after(0, 90)).toBeUndefined();
    recent.clear();
    expect(recent.after(80, 90)).toBeUndefined();
  });

  it('keeps what the limit of each commit says: more while followed, down to less once not', () => {
    const recent = new RecentBatches();
    for (let i = 0; i < 30; i++) recent.add([batch(i * 3 + 1, i * 3 + 3)], 100);
    expect(recent.after(0, 90)![0]!.firstId).toBe(1);
    recent.add([batch(91, 93)], 10);
    expect(recent.after(80, 93)).toBeUndefined();
    expect(recent.after(84, 93)!.map((b) => b.firstId)).toEqual([85, 88, 91]);
  });

  it('keeps the last commit whole, however large', () => {
    const recent = new RecentBatches();
    recent.add([batch(1, 5)], 10);
    const commit = [batch(6, 20), batch(21, 35), batch(36, 50)];
    recent.add(commit, 10);
    expect(recent.after(5, 50)).toEqual(commit);
    expect(recent.after(0, 50)).toBeUndefined();
  });
});
