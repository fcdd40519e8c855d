import { ZERO_USAGE } from '@orc/shared';
import { ManualClock } from '@orc/test-support';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { QuotaGovernor, type QuotaAsk, type QuotaPermit } from './quota-governor.js';
import type { LedgerAnswer, LedgerNeed, LedgerReading, LedgerRelease, QuotaLedger } from './quota-ledger.js';

/** A ledger that answers as the test says, and keeps what it was told. */
class ScriptedLedger implements QuotaLedger {
  readonly asks: { quota: string; need: LedgerNeed; answer: (answer: LedgerAnswer) => void }[] = [];
  readonly released: { flight: string; end: LedgerRelease }[] = [];
  readonly observed: { flight: string; readings: readonly LedgerReading[] }[] = [];
  private readonly listeners: ((quota: string) => void)[] = [];

  reserve(quota: string, _model: string, need: LedgerNeed): Promise<LedgerAnswer> {
    return new Promise((answer) => this.asks.push({ quota, need, answer }));
  }
  observe(_quota: string, flight: string, readings: readonly LedgerReading[]): void {
    this.observed.push({ flight, readings });
  }
  release(_quota: string, flight: string, end: LedgerRelease): void {
    this.released.push({ flight, end });
  }
  onRoom(listener: (quota: string) => void): void {
    this.listeners.push(listener);
  }
  room(quota: string): void {
    for (const listener of this.listeners) listener(quota);
  }
}

const QUOTA = { key: 'anthropic test 0123456789abcdef claude-sonnet-5-5', metered: true };
const ask: QuotaAsk = {
  runId: 'r1',
  quota: QUOTA,
  call: { purpose: 'work', model: 'claude-sonnet-5-5', system: '', prompt: 'x'.repeat(400), maxTokens: 100 },
};

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function track(promise: Promise<QuotaPermit>): { permit?: QuotaPermit; error?: unknown } {
  const state: { permit?: QuotaPermit; error?: unknown } = {};
  promise.then(
    (permit) => (state.permit = permit),
    (error: unknown) => (state.error = error),
  );
  return state;
}

describe('QuotaGovernor with a shared ledger', () => {
  it('sends a metered call only once the ledger gave it a place, one ask at a time per quota', async () => {
    const clock = new ManualClock();
    const ledger = new ScriptedLedger();
    const governor = new QuotaGovernor(clock, 8, undefined, ledger);
    const first = track(governor.admit(ask));
    const second = track(governor.admit(ask));
    await settle();
    expect(ledger.asks).toHaveLength(1);
    // Its input (400 characters: 100 tokens) is charged, its output (max_tokens until answers come) held.
    expect(ledger.asks[0]!.need).toEqual({ input: 100, output: 100 });
    expect(first.permit).toBeUndefined();
    ledger.asks[0]!.answer({ ok: true, flight: '1' });
    await settle();
    expect(first.permit).toBeDefined();
    expect(ledger.asks).toHaveLength(2);
    expect(second.permit).toBeUndefined();
  });

  it('waits as long as the ledger says, and asks again at once when another process made room', async () => {
    const clock = new ManualClock();
    const ledger = new ScriptedLedger();
    const governor = new QuotaGovernor(clock, 8, undefined, ledger);
    const call = track(governor.admit(ask));
    await settle();
    ledger.asks[0]!.answer({ ok: false, ms: 5_000, known: true, reason: 'requests' });
    await settle();
    clock.advance(4_999);
    await settle();
    expect(ledger.asks).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(ledger.asks).toHaveLength(2);
    // A call must end first, somewhere: asked again within a second, or at once on a word of room.
    ledger.asks[1]!.answer({ ok: false, ms: 40_000, known: false, reason: 'output tokens' });
    await settle();
    clock.advance(1_000);
    await settle();
    expect(ledger.asks).toHaveLength(3);
    ledger.asks[2]!.answer({ ok: false, ms: 40_000, known: false, reason: 'output tokens' });
    await settle();
    ledger.room(QUOTA.key);
    await settle();
    expect(ledger.asks).toHaveLength(4);
    ledger.asks[3]!.answer({ ok: true, flight: '7' });
    await settle();
    expect(call.permit).toBeDefined();
  });

  it('tells the ledger each answer’s headers and each end: the output used, a 429, a place never used', async () => {
    const clock = new ManualClock();
    const ledger = new ScriptedLedger();
    const governor = new QuotaGovernor(clock, 8, undefined, ledger);
    const answered = track(governor.admit(ask));
    await settle();
    ledger.asks[0]!.answer({ ok: true, flight: '1' });
    await settle();
    const now = clock.now();
    answered.permit!.onRateLimits({
      at: now,
      buckets: { requests: { limit: 50, remaining: 40, resetAt: now + 12_000 } },
    });
    answered.permit!.succeeded({ ...ZERO_USAGE, inputTokens: 100, outputTokens: 30 });
    expect(ledger.observed).toEqual([
      {
        flight: '1',
        readings: [{ dimension: 'requests', limit: 50, remaining: 40, fillMs: expect.any(Number) as number }],
      },
    ]);
    expect(ledger.released[0]).toEqual({
      flight: '1',
      end: { outputTokens: 30, answered: true, sent: true, refused: false },
    });

    const refused = track(governor.admit(ask));
    await settle();
    ledger.asks[1]!.answer({ ok: true, flight: '2' });
    await settle();
    refused.permit!.failed(new ModelError('transient', 'rate limited', { status: 429, retryAfterMs: 1_000 }));
    expect(ledger.released[1]!.end).toEqual({ outputTokens: 0, answered: false, sent: true, refused: true });

    // Cancelled while the ledger was asked: the place it then gives is given back, never used.
    const stop = new AbortController();
    const cancelled = track(governor.admit(ask, stop.signal));
    // (After the second the 429 asked to wait.)
    clock.advance(1_000);
    await settle();
    expect(ledger.asks).toHaveLength(3);
    stop.abort();
    await settle();
    expect(cancelled.error).toBeDefined();
    ledger.asks[2]!.answer({ ok: true, flight: '3' });
    await settle();
    expect(ledger.released[2]).toEqual({
      flight: '3',
      end: { outputTokens: 0, answered: false, sent: false, refused: false },
    });
  });
});
