import { describe, expect, it } from 'vitest';
import { share, stringifyMessage } from './shared-json.js';

/** tRPC's message for a tracked item of a subscription, as its ws adapter builds it. */
const tracked = (callId: number, id: string, data: unknown) => ({
  id: callId,
  jsonrpc: '2.0',
  result: { type: 'data', data: { id, data }, id },
});

describe('stringifyMessage', () => {
  it('gives the same text as JSON.stringify, for a shared value and a plain one', () => {
    const batch = share([
      { id: 7, text: 'naïve "quoted" \u0000 line\n' },
      { id: 8, text: '✓' },
    ]);
    for (const message of [
      tracked(3, '8', batch),
      tracked(4, '8', [...batch]),
      { id: 1, result: { data: batch } },
    ]) {
      const { text, bytes } = stringifyMessage(message);
      expect(text).toBe(JSON.stringify(message));
      expect(bytes).toBe(Buffer.byteLength(text));
    }
  });

  it("splices the text a value was shared with, not its toJSON's (a journal's batch is its own lines)", () => {
    let calls = 0;
    const batch = share(
      {
        toJSON() {
          calls++;
          return { events: [] };
        },
      },
      '{"events":[{"id":1}]}',
    );
    const { text, bytes } = stringifyMessage(tracked(5, '1', batch));
    expect(JSON.parse(text)).toEqual(tracked(5, '1', { events: [{ id: 1 }] }));
    expect(bytes).toBe(Buffer.byteLength(text));
    expect(calls).toBe(0);
  });

  it('serialises a shared value once, however many envelopes carry it', () => {
    let reads = 0;
    const event = {
      get text() {
        reads++;
        return 'x';
      },
    };
    const batch = share([event]);
    const texts = [1, 2, 3].map((callId) => stringifyMessage(tracked(callId, '1', batch)).text);
    expect(reads).toBe(1);
    expect(texts.map((text) => (JSON.parse(text) as { id: number }).id)).toEqual([1, 2, 3]);
  });
});
