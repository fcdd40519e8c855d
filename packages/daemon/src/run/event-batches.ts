import type { EventBatch, OrcEvent } from '@orc/shared';
import { EventBatchText } from './event-batch-text.js';

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
): AsyncGenerator<EventBatchText> {
  let last = afterId;
  let batch: OrcEvent[] = [];
  try {
    for await (const event of events) {
      if (signal?.aborted) return;
      if (event.id <= last) continue;
      last = event.id;
      batch.push(event);
      if (batch.length >= EVENT_BATCH_LIMIT) {
        yield EventBatchText.replayed(batch);
        batch = [];
      }
    }
  } catch (error) {
    if (batch.length > 0 && !signal?.aborted) yield EventBatchText.replayed(batch);
    throw error;
  }
  if (batch.length > 0 && !signal?.aborted) yield EventBatchText.replayed(batch);
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

/**
 * A group commit's batches of at most EVENT_BATCH_LIMIT: its events (consecutive ids), their JSON lines
 * as the journal wrote them, and when they were made durable.
 */
export function commitBatches(
  events: readonly OrcEvent[],
  lines: readonly string[],
  committedAt: number,
): EventBatchText[] {
  const batches: EventBatchText[] = [];
  for (let i = 0; i < events.length; i += EVENT_BATCH_LIMIT) {
    const end = i + EVENT_BATCH_LIMIT;
    batches.push(
      events.length <= EVENT_BATCH_LIMIT
        ? EventBatchText.of(events, lines, committedAt)
        : EventBatchText.of(events.slice(i, end), lines.slice(i, end), committedAt),
    );
  }
  return batches;
}
