import type { OrcEvent } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { batchesOf, commitBatches, EVENT_BATCH_CHARS, EVENT_BATCH_LIMIT } from './event-batches.js';

const event = (id: number) =>
  ({ id, runId: 'r1', at: '2026-11-30T00:00:00.000Z', type: 'run.resumed' }) as OrcEvent;
/** An event whose JSON line is about `chars` long. */
const sized = (id: number, chars: number) =>
  ({
    id,
    runId: 'r1',
    at: '2026-11-30T00:00:00.000Z',
    type: 'worker.output',
    taskId: 't1',
    worker: 0,
    text: 'x'.repeat(chars - 120),
  }) as OrcEvent;
/** Each batch's events' JSON, as the batch's text holds it (`[line,line,…]`), in characters. */
const textChars = (batch: { json: string }) => batch.json.length - '{"events":}'.length;

async function* source(ids: number[], failAfter?: number): AsyncGenerator<OrcEvent> {
  for (const id of ids) {
    await Promise.resolve();
    yield event(id);
    if (id === failAfter) throw new Error(`a hole after event ${id}`);
  }
}

describe('batchesOf', () => {
  it('batches the events after an id, at most EVENT_BATCH_LIMIT a batch, as replays', async () => {
    const ids = Array.from({ length: EVENT_BATCH_LIMIT + 10 }, (_, i) => i + 1);
    const batches = [];
    for await (const batch of batchesOf(source(ids), 5)) batches.push(batch);
    expect(batches.map((b) => [b.firstId, b.count, b.committedAt])).toEqual([
      [6, EVENT_BATCH_LIMIT, undefined],
      [EVENT_BATCH_LIMIT + 6, 5, undefined],
    ]);
    expect(batches[1]!.events).toEqual(ids.slice(-5).map(event));
  });

  it('keeps a batch under EVENT_BATCH_CHARS of text; a larger event goes alone', async () => {
    const events = [
      ...Array.from({ length: 10 }, (_, i) => sized(i + 1, 30_000)),
      sized(11, EVENT_BATCH_CHARS * 2),
      sized(12, 300),
    ];
    async function* read() {
      for (const e of events) yield await Promise.resolve(e);
    }
    const sizedBatches = [];
    for await (const batch of batchesOf(read(), 0)) sizedBatches.push(batch);
    expect(sizedBatches.map((b) => [b.firstId, b.count])).toEqual([
      [1, 3],
      [4, 3],
      [7, 3],
      [10, 1],
      [11, 1],
      [12, 1],
    ]);
    for (const batch of sizedBatches.filter((b) => b.firstId !== 11))
      expect(textChars(batch)).toBeLessThanOrEqual(EVENT_BATCH_CHARS);
    expect(sizedBatches.flatMap((b) => b.events)).toEqual(events);
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

describe('commitBatches', () => {
  it("cuts a group commit into batches of at most EVENT_BATCH_LIMIT, each with the commit's time", () => {
    const events = Array.from({ length: EVENT_BATCH_LIMIT * 2 + 1 }, (_, i) => event(i + 1));
    const batches = commitBatches(
      events,
      events.map((e) => JSON.stringify(e)),
      42,
    );
    expect(batches.map((b) => [b.firstId, b.lastId, b.committedAt])).toEqual([
      [1, EVENT_BATCH_LIMIT, 42],
      [EVENT_BATCH_LIMIT + 1, EVENT_BATCH_LIMIT * 2, 42],
      [EVENT_BATCH_LIMIT * 2 + 1, EVENT_BATCH_LIMIT * 2 + 1, 42],
    ]);
    expect(batches.flatMap((b) => b.events)).toEqual(events);
  });

  it('cuts a group commit under EVENT_BATCH_CHARS of text a batch; a larger event goes alone', () => {
    const events = [
      sized(1, 300),
      sized(2, EVENT_BATCH_CHARS + 10),
      ...Array.from({ length: 7 }, (_, i) => sized(i + 3, 30_000)),
    ];
    const batches = commitBatches(
      events,
      events.map((e) => JSON.stringify(e)),
      42,
    );
    expect(batches.map((b) => [b.firstId, b.lastId, b.committedAt])).toEqual([
      [1, 1, 42],
      [2, 2, 42],
      [3, 5, 42],
      [6, 8, 42],
      [9, 9, 42],
    ]);
    for (const batch of batches.filter((b) => b.firstId !== 2))
      expect(textChars(batch)).toBeLessThanOrEqual(EVENT_BATCH_CHARS);
    expect(batches.flatMap((b) => b.events)).toEqual(events);
  });
});
