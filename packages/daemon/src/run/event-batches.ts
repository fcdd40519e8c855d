import type { OrcEvent } from '@orc/shared';

/**
 * Most events in one batch of a subscription. A group commit of a run at full speed makes a few hundred
 * durable at once; a replay of 100,000 events goes out as a hundred messages rather than one that the
 * client must hold whole (or one per event, about 17 µs of the daemon's CPU each).
 */
export const EVENT_BATCH_LIMIT = 1_000;

/** A stream of events after `afterId`, in batches of at most EVENT_BATCH_LIMIT, in order. */
export async function* batchesOf(
  events: AsyncIterable<OrcEvent>,
  afterId: number,
  signal?: AbortSignal,
): AsyncGenerator<readonly OrcEvent[]> {
  let last = afterId;
  let batch: OrcEvent[] = [];
  for await (const event of events) {
    if (signal?.aborted) return;
    if (event.id <= last) continue;
    last = event.id;
    batch.push(event);
    if (batch.length >= EVENT_BATCH_LIMIT) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0 && !signal?.aborted) yield batch;
}

/** The events of a stream of batches one at a time, ending at the next read once the signal aborts. */
export async function* eventsOf(
  batches: AsyncIterable<readonly OrcEvent[]>,
  signal: AbortSignal,
): AsyncGenerator<OrcEvent> {
  for await (const batch of batches) {
    for (const event of batch) {
      if (signal.aborted) return;
      yield event;
    }
  }
}

/** Slices of at most EVENT_BATCH_LIMIT events; the array itself when it is no longer (shared as it is). */
export function splitBatch(events: readonly OrcEvent[]): (readonly OrcEvent[])[] {
  if (events.length <= EVENT_BATCH_LIMIT) return [events];
  const parts: OrcEvent[][] = [];
  for (let i = 0; i < events.length; i += EVENT_BATCH_LIMIT)
    parts.push(events.slice(i, i + EVENT_BATCH_LIMIT));
  return parts;
}

/** The events of `batch` after `afterId` (ids are consecutive and rising): the batch itself when all are. */
export function after(batch: readonly OrcEvent[], afterId: number): readonly OrcEvent[] {
  if (batch.length === 0 || batch[0]!.id > afterId) return batch;
  const start = batch.findIndex((e) => e.id > afterId);
  return start === -1 ? [] : batch.slice(start);
}
