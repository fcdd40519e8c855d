/**
 * A value sent to many connections serialised once: a run's batch of events goes to every subscriber of
 * the run, and `JSON.stringify` of it per subscriber was most of the daemon's CPU per delivery. `share`
 * marks the value; `stringifyMessage` splices its text, made on first use and kept while the value
 * lives, into each connection's own envelope (its call id, the tracked event id).
 */
const shared = new WeakSet<object>();
const texts = new WeakMap<object, { text: string; bytes: number }>();

/** Stands for the shared value in the envelope; no JSON text of ours holds it otherwise. */
const PLACEHOLDER = '\u0000orc-shared-json\u0000';
const QUOTED_PLACEHOLDER = JSON.stringify(PLACEHOLDER);

/** Marks `value` as sent unchanged to several connections (it must not be changed from now on). */
export function share<T extends object>(value: T): T {
  shared.add(value);
  return value;
}

/** The JSON text of a message, and its length in UTF-8 bytes. */
export interface MessageText {
  text: string;
  bytes: number;
}

/** `JSON.stringify(message)`, reusing the text of a shared value it holds (tRPC's `result.data[.data]`). */
export function stringifyMessage(message: unknown): MessageText {
  const value = sharedValueOf(message);
  if (value === undefined) {
    const text = JSON.stringify(message);
    return { text, bytes: Buffer.byteLength(text) };
  }
  let own = texts.get(value);
  if (own === undefined) {
    const text = JSON.stringify(value);
    own = { text, bytes: Buffer.byteLength(text) };
    texts.set(value, own);
  }
  const envelope = JSON.stringify(message, (_key, v: unknown) => (v === value ? PLACEHOLDER : v));
  const { text } = own;
  return {
    text: envelope.replace(QUOTED_PLACEHOLDER, () => text),
    bytes: Buffer.byteLength(envelope) - QUOTED_PLACEHOLDER.length + own.bytes,
  };
}

function sharedValueOf(message: unknown): object | undefined {
  const data = (message as { result?: { data?: unknown } } | undefined)?.result?.data;
  if (isShared(data)) return data;
  const tracked = (data as { data?: unknown } | undefined)?.data;
  return isShared(tracked) ? tracked : undefined;
}

function isShared(value: unknown): value is object {
  return typeof value === 'object' && value !== null && shared.has(value);
}
