/**
 * A value sent to many connections serialised once: a run's batch of events goes to every subscriber of
 * the run, and `JSON.stringify` of it per subscriber was most of the daemon's CPU per delivery. `share`
 * marks the value (with its text, when the caller has it already: a journal's batch is the lines it
 * wrote); `stringifyMessage` splices its text, made on first use and kept while the value lives, into
 * each connection's own envelope (its call id, the tracked event id).
 */
const texts = new WeakMap<object, MessageText | undefined>();

/** Stands for the shared value in the envelope; no JSON text of ours holds it otherwise. */
const PLACEHOLDER = '\u0000orc-shared-json\u0000';
const QUOTED_PLACEHOLDER = JSON.stringify(PLACEHOLDER);

/**
 * Marks `value` as sent unchanged to several connections (it must not be changed from now on); `json`:
 * its JSON text, as `JSON.stringify(value)` would give it.
 */
export function share<T extends object>(value: T, json?: string): T {
  if (texts.get(value) === undefined)
    texts.set(value, json === undefined ? undefined : { text: json, bytes: Buffer.byteLength(json) });
  return value;
}

/** The JSON text of a message, and its length in UTF-8 bytes. */
export interface MessageText {
  text: string;
  bytes: number;
}

/** `JSON.stringify(message)`, reusing the text of a shared value it holds (tRPC's `result.data[.data]`). */
export function stringifyMessage(message: unknown): MessageText {
  const shared = withPlaceholder(message);
  if (shared === undefined) {
    const text = JSON.stringify(message);
    return { text, bytes: Buffer.byteLength(text) };
  }
  const { value, envelope } = shared;
  let own = texts.get(value);
  if (own === undefined) {
    const text = JSON.stringify(value);
    own = { text, bytes: Buffer.byteLength(text) };
    texts.set(value, own);
  }
  const outer = JSON.stringify(envelope);
  const { text } = own;
  return {
    text: outer.replace(QUOTED_PLACEHOLDER, () => text),
    bytes: Buffer.byteLength(outer) - QUOTED_PLACEHOLDER.length + own.bytes,
  };
}

/** The shared value (see `share`) a message carries as tRPC's `result.data[.data]`, if any. */
export function sharedValueOf(message: unknown): object | undefined {
  return withPlaceholder(message)?.value;
}

/**
 * The shared value a message carries, and the message with the placeholder in its place (copied where
 * it differs): a replacer function would see the value only after its `toJSON` ran.
 */
function withPlaceholder(message: unknown): { value: object; envelope: unknown } | undefined {
  const outer = message as { result?: { data?: unknown } } | undefined;
  const result = outer?.result;
  const data = result?.data;
  if (isShared(data))
    return { value: data, envelope: { ...outer, result: { ...result, data: PLACEHOLDER } } };
  const tracked = data as { data?: unknown } | undefined;
  if (isShared(tracked?.data)) {
    return {
      value: tracked.data,
      envelope: { ...outer, result: { ...result, data: { ...tracked, data: PLACEHOLDER } } },
    };
  }
  return undefined;
}

function isShared(value: unknown): value is object {
  return typeof value === 'object' && value !== null && texts.has(value);
}
