import type { WebSocket } from 'ws';
import type { Encoder } from '@trpc/server/adapters/ws';
import { EventBatchText } from '../run/event-batch-text.js';
import { sharedValueOf } from './shared-json.js';

/** Values sent for a batch of events other than the batch itself: `runs.events` sends its last event. */
const timed = new WeakMap<object, EventBatchText>();

/** `value` (a message's data) is sent for `batch`: the batch is delivered once it is written. */
export function timedAs<T extends object>(value: T, batch: EventBatchText): T {
  if (batch.committedAt !== undefined) timed.set(value, batch);
  return value;
}

/** Told of each live batch once its frame is written to a subscriber's socket. */
export type DeliveryObserver = (oldestAt: string, committedAt: number) => void;

/**
 * Times the daemon's fan-out where it ends: a live batch of a run's events (one with `committedAt`)
 * counts as delivered once its frame is written to the subscriber's socket (ws's send callback), not
 * when the journal hands it to the subscription. Before that, a subscriber reading slower than the run
 * had up to `pacedBytes` (8 MiB, seconds of events) queued in the daemon ahead of each batch, which the
 * hand-over never saw: the live screen case's fan-out read 8.3 ms p99 while its subscribers measured
 * 2.7 s from the commit. A batch whose connection closes before it is written is not counted here: it
 * is delivered again, and counted then, when the client resumes (see RunJournal.eventBatches).
 *
 * tRPC's ws adapter sends each message as `ws.send(encoder.encode(message))`: the batch `encode` saw is
 * the one the next `send` carries.
 */
export function timeDeliveries(ws: WebSocket, encoder: Encoder, observe: DeliveryObserver): Encoder {
  let encoded: EventBatchText | undefined;
  const send = ws.send.bind(ws) as (...args: unknown[]) => void;
  ws.send = ((...args: unknown[]) => {
    const batch = encoded;
    encoded = undefined;
    if (batch === undefined || args.length !== 1) {
      send(...args);
      return;
    }
    const { oldestAt, committedAt } = batch;
    send(args[0], (error?: Error | null) => {
      // ws calls back with null once written, with an error when the socket closed first.
      if (!error && committedAt !== undefined) observe(oldestAt, committedAt);
    });
  }) as WebSocket['send'];
  return {
    decode: (data) => encoder.decode(data),
    encode: (data) => {
      const batch = batchOf(data);
      const text = encoder.encode(data);
      encoded = batch?.committedAt !== undefined && text !== '' ? batch : undefined;
      return text;
    },
  };
}

/** The batch of events a message carries: `runs.eventBatches`' own (shared), or one `timedAs` marked. */
function batchOf(message: unknown): EventBatchText | undefined {
  const shared = sharedValueOf(message);
  if (shared instanceof EventBatchText) return shared;
  const data = (message as { result?: { data?: { data?: unknown } } } | undefined)?.result?.data?.data;
  return typeof data === 'object' && data !== null ? timed.get(data) : undefined;
}
