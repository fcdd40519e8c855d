import type { EventBatch, OrcEvent } from '@orc/shared';

/**
 * Most events in one batch of a subscription. A group commit of a run at full speed makes a few hundred
 * durable at once; a replay of 100,000 events goes out as a hundred messages rather than one that the
 * client must hold whole (or one per event, about 17 µs of the daemon's CPU each).
 */
export const EVENT_BATCH_LIMIT = 1_000;

/**
 * A stream of events after `afterId`, in batches of at most EVENT_BATCH_LIMIT, in order. When the stream
 * fails (a hole in a damaged journal), the events read before it are handed over first, then the error.
 */
export async function* batchesOf(
  events: AsyncIterable<OrcEvent>,
  afterId: number,
  signal?: AbortSignal,
): AsyncGenerator<EventBatch> {
  let last = afterId;
  let batch: OrcEvent[] = [];
  try {
    for await (const event of events) {
      if (signal?.aborted) return;
      if (event.id <= last) continue;
      last = event.id;
      batch.push(event);
      if (batch.length >= EVENT_BATCH_LIMIT) {
        yield { events: batch };
        batch = [];
      }
    }
  } catch (error) {
    if (batch.length > 0 && !signal?.aborted) yield { events: batch };
    throw error;
  }
  if (batch.length > 0 && !signal?.aborted) yield { events: batch };
}

/** The events of a stream of batches one at a time, ending at the next read once the signal aborts. */
export async function* eventsOf(
  batches: AsyncIterable<EventBatch>,
  signal: AbortSignal,
): AsyncGenerator<OrcEvent> {
  for await (const batch of batches) {
    for (const event of batch.events) {
      if (signal.aborted) return;
      yield event;
    }
  }
}

/** Batches of at most EVENT_BATCH_LIMIT of `events`, made durable at `committedAt` (none: replayed). */
export function batchesFrom(events: OrcEvent[], committedAt?: number): EventBatch[] {
  const batches: EventBatch[] = [];
  for (let i = 0; i < events.length; i += EVENT_BATCH_LIMIT) {
    const part = events.length <= EVENT_BATCH_LIMIT ? events : events.slice(i, i + EVENT_BATCH_LIMIT);
    batches.push(committedAt === undefined ? { events: part } : { events: part, committedAt });
  }
  return batches;
}

/** The events of `batch` after `afterId` (ids are consecutive and rising): the batch itself when all are. */
export function after(batch: EventBatch, afterId: number): EventBatch {
  const { events } = batch;
  if (events.length === 0 || events[0]!.id > afterId) return batch;
  const start = events.findIndex((e) => e.id > afterId);
  return { ...batch, events: start === -1 ? [] : events.slice(start) };
}
