import type { OrcEvent } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { after, batchesOf, EVENT_BATCH_LIMIT } from './event-batches.js';

const event = (id: number) =>
  ({ id, runId: 'r1', at: '2026-11-30T00:00:00.000Z', type: 'run.resumed' }) as OrcEvent;

async function* source(ids: number[], failAfter?: number): AsyncGenerator<OrcEvent> {
  for (const id of ids) {
    await Promise.resolve();
    yield event(id);
    if (id === failAfter) throw new Error(`a hole after event ${id}`);
  }
}

describe('batchesOf', () => {
  it('batches the events after an id, at most EVENT_BATCH_LIMIT a batch', async () => {
    const ids = Array.from({ length: EVENT_BATCH_LIMIT + 10 }, (_, i) => i + 1);
    const sizes: number[] = [];
    for await (const batch of batchesOf(source(ids), 5)) sizes.push(batch.events.length);
    expect(sizes).toEqual([EVENT_BATCH_LIMIT, 5]);
  });

  it('hands over the events read before the stream fails, then fails', async () => {
    const seen: number[] = [];
    const reading = (async () => {
      for await (const batch of batchesOf(source([1, 2, 3, 4, 5], 3), 0))
        seen.push(...batch.events.map((e) => e.id));
    })();
    await expect(reading).rejects.toThrow('a hole after event 3');
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('after', () => {
  it('cuts a batch at an id inside it, and keeps a batch wholly after it as it is', () => {
    const batch = { events: [event(4), event(5), event(6)], committedAt: 7 };
    expect(after(batch, 4)).toEqual({ events: [event(5), event(6)], committedAt: 7 });
    expect(after(batch, 3)).toBe(batch);
    expect(after(batch, 6).events).toEqual([]);
  });
});
