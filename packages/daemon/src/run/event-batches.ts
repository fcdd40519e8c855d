import type { EventBatch, OrcEvent } from '@orc/shared';
import { EventBatchText } from './event-batch-text.js';

/**
 * Most events in one batch of a subscription. A group commit of a run at full speed makes a few hundred
 * durable at once; a replay of 100,000 events goes out as a hundred messages rather than one that the
 * client must hold whole (or one per event, about 17 µs of the daemon's CPU each).
 */
export const EVENT_BATCH_LIMIT = 1_000;
/**
 * Most characters of the events' JSON in one batch (one event larger than this goes alone). A message
 * past V8's largest regular heap object (128 KiB of one-byte text) is allocated apart and freed only by a
 * full collection: a subscriber's decoding and parsing of the same events took 0.84 µs an event in
 * frames of 140 KB or more and 0.64 µs in frames up to 127 KB. At full speed a group commit holds ~250 KB
 * of events (80% of the live screen case's events came in batches of 513–1,000, ~250 bytes each).
 */
export const EVENT_BATCH_CHARS = 96 * 1024;

/**
 * A stream of events after `afterId`, in batches of at most EVENT_BATCH_LIMIT and EVENT_BATCH_CHARS, in order. When the stream
 * fails (a hole in a damaged journal), the events read before it are handed over first, then the error.
 */
export async function* batchesOf(
  events: AsyncIterable<OrcEvent>,
  afterId: number,
  signal?: AbortSignal,
): AsyncGenerator<EventBatchText> {
  let last = afterId;
  let batch: OrcEvent[] = [];
  let lines: string[] = [];
  let chars = 0;
  const cut = () => {
    const replayed = EventBatchText.of(batch, lines);
    batch = [];
    lines = [];
    chars = 0;
    return replayed;
  };
  try {
    for await (const event of events) {
      if (signal?.aborted) return;
      if (event.id <= last) continue;
      last = event.id;
      const line = JSON.stringify(event);
      if (batch.length > 0 && chars + line.length > EVENT_BATCH_CHARS) yield cut();
      batch.push(event);
      lines.push(line);
      chars += line.length + 1;
      if (batch.length >= EVENT_BATCH_LIMIT) yield cut();
    }
  } catch (error) {
    if (batch.length > 0 && !signal?.aborted) yield cut();
    throw error;
  }
  if (batch.length > 0 && !signal?.aborted) yield cut();
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
 * A group commit's batches of at most EVENT_BATCH_LIMIT and EVENT_BATCH_CHARS: its events (consecutive
 * ids), their JSON lines as the journal wrote them, and when they were made durable.
 */
export function commitBatches(
  events: readonly OrcEvent[],
  lines: readonly string[],
  committedAt: number,
): EventBatchText[] {
  const batches: EventBatchText[] = [];
  let start = 0;
  let chars = 0;
  for (let i = 0; i < events.length; i++) {
    const length = lines[i]!.length + 1;
    if (i > start && (i - start >= EVENT_BATCH_LIMIT || chars + length > EVENT_BATCH_CHARS)) {
      batches.push(EventBatchText.of(events.slice(start, i), lines.slice(start, i), committedAt));
      start = i;
      chars = 0;
    }
    chars += length;
  }
  batches.push(
    start === 0
      ? EventBatchText.of(events, lines, committedAt)
      : EventBatchText.of(events.slice(start), lines.slice(start), committedAt),
  );
  return batches;
}
