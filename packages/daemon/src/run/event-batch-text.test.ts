import type { EventBatch, OrcEvent } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { EventBatchText } from './event-batch-text.js';

const events: OrcEvent[] = [
  { id: 4, runId: 'r1', at: '2026-11-30T00:00:04.000Z', type: 'run.resumed' },
  {
    id: 5,
    runId: 'r1',
    at: '2026-11-30T00:00:05.000Z',
    type: 'worker.output',
    taskId: 't1',
    worker: 0,
    text: 'naïve, "quoted" ✓ [with brackets], {braces}\n',
  },
  { id: 6, runId: 'r1', at: '2026-11-30T00:00:06.000Z', type: 'task.failed', taskId: 't1', error: '}],[{' },
];
const text = () =>
  EventBatchText.of(
    events,
    events.map((e) => JSON.stringify(e)),
    7,
  );

describe('EventBatchText', () => {
  it('is the batch JSON.stringify writes, and gives its events back', () => {
    const batch = text();
    const plain: EventBatch = { events, committedAt: 7 };
    expect(batch.json).toBe(JSON.stringify(plain));
    expect(JSON.stringify(batch)).toBe(JSON.stringify(plain));
    expect(batch.events).toEqual(events);
    expect([batch.firstId, batch.lastId, batch.count, batch.runId, batch.oldestAt]).toEqual([
      4,
      6,
      3,
      'r1',
      events[0]!.at,
    ]);
  });

  it('cuts at an id inside it, keeps itself when all its events are after the id, and ends empty past it', () => {
    const batch = text();
    expect(batch.after(3)).toBe(batch);
    const cut = batch.after(4)!;
    expect(cut.json).toBe(JSON.stringify({ events: events.slice(1), committedAt: 7 }));
    expect([cut.firstId, cut.lastId, cut.oldestAt]).toEqual([5, 6, events[1]!.at]);
    const last = cut.after(5)!;
    expect(last.events).toEqual(events.slice(2));
    expect(last.oldestAt).toBe(events[2]!.at);
    expect(last.after(5)).toBe(last);
    expect(batch.after(6)).toBeUndefined();
  });

  it('reads as a replay without its commit time', () => {
    const replay = text().asReplay();
    expect(replay.committedAt).toBeUndefined();
    expect(replay.json).toBe(JSON.stringify({ events }));
    expect(EventBatchText.replayed(events).json).toBe(JSON.stringify({ events }));
  });

  it('keeps the events up to an id, and is delivered live at a commit time', () => {
    const batch = text().asReplay();
    expect(batch.upTo(6)).toBe(batch);
    const head = batch.upTo(5);
    expect(head.json).toBe(JSON.stringify({ events: events.slice(0, 2) }));
    expect([head.firstId, head.lastId, head.count]).toEqual([4, 5, 2]);
    expect(head.upTo(4).events).toEqual(events.slice(0, 1));
    // Cut again after: the offsets of the part kept are the batch's own.
    expect(head.after(4)!.events).toEqual(events.slice(1, 2));
    const live = head.committed(9);
    expect(live.json).toBe(JSON.stringify({ events: events.slice(0, 2), committedAt: 9 }));
  });
});
