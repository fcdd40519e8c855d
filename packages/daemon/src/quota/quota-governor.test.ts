import { ZERO_USAGE, type Usage } from '@orc/shared';
import { ManualClock } from '@orc/test-support';
import { describe, expect, it } from 'vitest';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import { seededRandom } from '../model/seeded-random.js';
import { QuotaGovernor, type QuotaAsk, type QuotaPermit, type QuotaWait } from './quota-governor.js';
import type { RateLimitReport } from './rate-limit-report.js';

const METERED = { key: 'anthropic test claude-sonnet-5-5', metered: true };
const MINUTE = 60_000;

function ask(overrides: Partial<QuotaAsk> & { prompt?: string; system?: string } = {}): QuotaAsk {
  const { prompt, system, ...rest } = overrides;
  return {
    runId: 'r1',
    quota: METERED,
    call: {
      purpose: 'work',
      model: 'claude-sonnet-5-5',
      system: system ?? '',
      prompt: prompt ?? 'x'.repeat(400), // 100 tokens at four characters a token
      maxTokens: 100,
    },
    ...rest,
  };
}

/** Headers as the API sends them: each bucket's limit, what is left, and when it is full again. */
function reading(
  now: number,
  buckets: Partial<Record<'requests' | 'input-tokens' | 'output-tokens', [number, number]>>,
): RateLimitReport {
  const report: RateLimitReport = { at: now, buckets: {} };
  for (const [dimension, [limit, remaining]] of Object.entries(buckets)) {
    report.buckets[dimension as 'requests'] = {
      limit,
      remaining,
      resetAt: now + ((limit - remaining) / limit) * MINUTE,
    };
  }
  return report;
}

function usage(outputTokens: number, inputTokens = 100): Usage {
  return { ...ZERO_USAGE, inputTokens, outputTokens };
}

/** Resolves with the permits admitted so far, letting pending promise callbacks run first. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function track(promise: Promise<QuotaPermit>): { permit: QuotaPermit | undefined; error: unknown } {
  const state: { permit: QuotaPermit | undefined; error: unknown } = { permit: undefined, error: undefined };
  promise.then(
    (permit) => (state.permit = permit),
    (error: unknown) => (state.error = error),
  );
  return state;
}

describe('QuotaGovernor: the machine-wide cap', () => {
  it('never has more calls in flight than machine_max_in_flight under random load', async () => {
    const governor = new QuotaGovernor(new ManualClock(), 3);
    const random = seededRandom(11);
    let held = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const permit = await governor.admit(ask({ runId: `r${i % 4}`, quota: undefined }));
        held += 1;
        most = Math.max(most, held);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 4)));
        held -= 1;
        permit.succeeded(usage(10));
      }),
    );
    expect(most).toBe(3);
    expect(governor.peak).toBe(3);
  });

  it('serves one run first come, first served; a call whose signal aborts leaves its place', async () => {
    const governor = new QuotaGovernor(new ManualClock(), 1);
    const first = await governor.admit(ask({ quota: undefined }));
    const order: string[] = [];
    const controller = new AbortController();
    const gone = track(governor.admit(ask({ quota: undefined }), controller.signal));
    const waiting = ['w1', 'w2'].map((name) =>
      governor.admit(ask({ quota: undefined })).then((permit) => {
        order.push(name);
        return permit;
      }),
    );
    controller.abort();
    await settle();
    expect(gone.error).toBeInstanceOf(CallCancelledError);
    first.succeeded(usage(1));
    (await waiting[0]!).succeeded(usage(1));
    (await waiting[1]!).failed(new Error('boom'));
    expect(order).toEqual(['w1', 'w2']);
    await expect(governor.admit(ask(), AbortSignal.abort())).rejects.toBeInstanceOf(CallCancelledError);
  });

  it('cancels the calls still waiting when the daemon stops', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 1);
    await governor.admit(ask({ quota: undefined }));
    const waiting = track(governor.admit(ask({ quota: undefined })));
    governor.close();
    await settle();
    expect(waiting.error).toBeInstanceOf(CallCancelledError);
  });

  it('lets runs waiting on the same quota take turns', async () => {
    const governor = new QuotaGovernor(new ManualClock(), 1);
    const holder = await governor.admit(ask({ quota: undefined }));
    const order: string[] = [];
    const calls = [
      ...Array.from({ length: 4 }, (_, i) => ['a', i] as const),
      ...Array.from({ length: 2 }, (_, i) => ['b', i] as const),
    ].map(([run, i]) =>
      governor.admit(ask({ runId: run, quota: undefined })).then((permit) => {
        order.push(`${run}${i}`);
        permit.succeeded(usage(1));
      }),
    );
    holder.succeeded(usage(1));
    await Promise.all(calls);
    expect(order).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'a3']);
  });
});

describe('QuotaGovernor: pacing from the rate-limit headers', () => {
  it('sends one call until the first answer tells the limits, then paces by them', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    const second = track(governor.admit(ask()));
    await settle();
    expect(second.permit).toBeUndefined();
    // 60 requests a minute, 2 left: two more go at once, the next a second later (1,018 ms: 58 taken
    // may be 57 and a fraction, as the count is rounded down, so the refill is taken as 57 in 58 s).
    probe.onRateLimits(reading(clock.now(), { requests: [60, 2] }));
    await settle();
    expect(second.permit).toBeDefined();
    const third = track(governor.admit(ask()));
    const fourth = track(governor.admit(ask()));
    await settle();
    expect(third.permit).toBeDefined();
    expect(fourth.permit).toBeUndefined();
    clock.advance(1_017);
    await settle();
    expect(fourth.permit).toBeUndefined();
    clock.advance(2);
    await settle();
    expect(fourth.permit).toBeDefined();
  });

  it('lets every call go once the first answer begins without limits (a server that meters nothing)', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    const second = track(governor.admit(ask()));
    await settle();
    expect(second.permit).toBeUndefined();
    // Its headers, as the answer begins: none of the limits. Waiting for its end held the others for it.
    probe.onRateLimits({ at: clock.now(), buckets: {} });
    await settle();
    expect(second.permit).toBeDefined();
    const more = Array.from({ length: 5 }, () => track(governor.admit(ask())));
    await settle();
    expect(more.every((call) => call.permit !== undefined)).toBe(true);
  });

  it('waits for input tokens to refill before a call that needs more than is left', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    // 6,000 input tokens a minute (100 a second), 50 left: a 100-token prompt waits half a second (and
    // a millisecond: the count is rounded down).
    probe.onRateLimits(reading(clock.now(), { 'input-tokens': [6000, 50] }));
    probe.succeeded(usage(10));
    const next = track(governor.admit(ask()));
    await settle();
    expect(next.permit).toBeUndefined();
    clock.advance(501);
    await settle();
    expect(next.permit).toBeDefined();
  });

  it('holds back the expected output of calls in flight, learned from similar answers', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 100);
    const probe = await governor.admit(ask());
    probe.onRateLimits(reading(clock.now(), { 'output-tokens': [1000, 1000] }));
    clock.advance(10); // the answer streams, and its output is charged as it ends
    // Answers of 40 tokens: the next calls are expected to use about 40 (their max_tokens is 100).
    probe.succeeded(usage(40));
    const admitted: QuotaPermit[] = [];
    const all = Array.from({ length: 40 }, () => governor.admit(ask()).then((p) => admitted.push(p)));
    await settle();
    // 1,000 tokens left less the 40 the probe used: 24 calls of 40 fit.
    expect(admitted).toHaveLength(24);
    for (const permit of admitted.splice(0)) permit.succeeded(usage(40));
    clock.advance(MINUTE);
    await Promise.all(all.slice(24, 40));
    expect(admitted).toHaveLength(16);
  });

  it('tells a call that waits a minute or more, and goes at the reset (a 429 with retry-after)', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    probe.onRateLimits(reading(clock.now(), { requests: [60, 30] }));
    const refusedWaits: QuotaWait[] = [];
    const refused = await governor.admit(ask({ onLongWait: (wait) => refusedWaits.push(wait) }));
    refused.failed(
      new ModelError('transient', 'rate limited', { status: 429, retryAfterMs: 120_000, rateLimited: true }),
    );
    const waits: QuotaWait[] = [];
    const waiting = track(governor.admit(ask({ runId: 'r2', onLongWait: (wait) => waits.push(wait) })));
    await settle();
    expect(waits.map(({ model, until }) => ({ model, until }))).toEqual([
      { model: 'claude-sonnet-5-5', until: clock.now() + 120_000 },
    ]);
    expect(waits[0]?.reason).toContain('120 s');
    expect(refusedWaits.map((w) => w.until)).toEqual([clock.now() + 120_000]);
    clock.advance(119_000);
    await settle();
    expect(waiting.permit).toBeUndefined();
    clock.advance(1_000);
    await settle();
    expect(waiting.permit).toBeDefined();
    expect(waits).toHaveLength(1);
    expect(governor.status().models[0]).toMatchObject({ rateLimited: 1 });
  });

  it('a short retry-after holds the quota without calling it a long wait', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    probe.failed(
      new ModelError('transient', 'rate limited', { status: 429, retryAfterMs: 5_000, rateLimited: true }),
    );
    const waits: QuotaWait[] = [];
    const next = track(governor.admit(ask({ onLongWait: (wait) => waits.push(wait) })));
    clock.advance(4_999);
    await settle();
    expect(next.permit).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(next.permit).toBeDefined();
    expect(waits).toEqual([]);
  });

  it('a Claude Code usage limit holds every call of the account until its reset', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const agent = { key: 'claude-code account', metered: false };
    const first = await governor.admit(ask({ quota: agent }));
    const second = await governor.admit(ask({ quota: agent })); // not metered: no probe, both go
    const resetAt = clock.now() + 3 * 3_600_000;
    first.failed(
      new ModelError('permanent', 'usage limit', { pauseRun: true, pauseReason: 'quota', resumeAt: resetAt }),
    );
    second.succeeded(usage(10));
    const waits: QuotaWait[] = [];
    const later = track(governor.admit(ask({ quota: agent, onLongWait: (wait) => waits.push(wait) })));
    await settle();
    expect(waits.map((w) => w.until)).toEqual([resetAt]);
    expect(governor.status().models[0]?.blockedUntil).toBe(new Date(resetAt).toISOString());
    clock.advance(3 * 3_600_000);
    await settle();
    expect(later.permit).toBeDefined();
  });
});

describe('QuotaGovernor: the cached prefix', () => {
  const prefix = 'The plan: '.repeat(500); // 5,000 characters: about 1,250 tokens, over the 1,024 minimum

  it('lets one call write a new prefix while the others wait for its answer, then charges them the rest', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    probe.onRateLimits(reading(clock.now(), { 'input-tokens': [2000, 2000] }));
    probe.succeeded(usage(10));
    const writer = await governor.admit(ask({ system: prefix }));
    const readers = Array.from({ length: 6 }, () => track(governor.admit(ask({ system: prefix }))));
    await settle();
    expect(readers.filter((r) => r.permit)).toHaveLength(0);
    writer.onAnswer();
    await settle();
    // 2,000 − 1,350 (the writer) = 650 left: six readers of 100 tokens each fit now the prefix is cached.
    expect(readers.filter((r) => r.permit)).toHaveLength(6);
  });

  it('a writer that fails lets the next call write, and a short prefix is never waited for', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    probe.onRateLimits(reading(clock.now(), { requests: [1000, 1000] }));
    const writer = await governor.admit(ask({ system: prefix }));
    const next = track(governor.admit(ask({ system: prefix })));
    const short = track(governor.admit(ask({ runId: 'r2', system: 'You are a worker.' })));
    await settle();
    expect(next.permit).toBeUndefined();
    expect(short.permit).toBeDefined();
    writer.failed(new ModelError('transient', 'connection reset'));
    await settle();
    expect(next.permit).toBeDefined();
  });

  it('stops waiting for a writer whose answer takes too long', async () => {
    const clock = new ManualClock();
    const governor = new QuotaGovernor(clock, 16);
    const probe = await governor.admit(ask());
    probe.onRateLimits(reading(clock.now(), { requests: [1000, 1000] }));
    await governor.admit(ask({ system: prefix }));
    const next = track(governor.admit(ask({ system: prefix })));
    clock.advance(15_000);
    await settle();
    expect(next.permit).toBeDefined();
  });
});
