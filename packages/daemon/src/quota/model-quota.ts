import { PrefixCache } from './prefix-cache.js';
import { QuotaBucket } from './quota-bucket.js';
import type { LedgerReading } from './quota-ledger.js';
import type { QuotaDimension, RateLimitReport } from './rate-limit-report.js';

/** One admitted call, as the quota counts it. */
export interface Flight {
  /** Its admission number: calls admitted later have higher ones. */
  call: number;
  /** When it was admitted (epoch ms): when the server charges its arrival. */
  at: number;
  /** Input tokens the quota is charged when the request arrives (cache reads are not counted). */
  input: number;
  /** Output tokens it is expected to use, charged when its answer ends. */
  output: number;
}

/** How long a call waits before it fits; `known` when only time passing (no call ending) makes room. */
export interface QuotaWaitEstimate {
  ms: number;
  known: boolean;
  /** What it waits for, in words: the bucket that binds, a `retry-after`, a usage limit. */
  reason: string;
}

/** What a dimension charges a call when it arrives, and when its answer ends. */
const CHARGES: Record<QuotaDimension, (f: Pick<Flight, 'input' | 'output'>) => [number, number]> = {
  requests: () => [1, 0],
  'input-tokens': (f) => [f.input, 0],
  'output-tokens': (f) => [0, f.output],
  tokens: (f) => [f.input, f.output],
};

const WORDS: Record<QuotaDimension, string> = {
  requests: 'requests',
  'input-tokens': 'input tokens',
  'output-tokens': 'output tokens',
  tokens: 'tokens',
};

/**
 * One model's quota on one account, as the daemon believes it from the answers' headers: a bucket per
 * dimension, the calls in flight, and a block (a `retry-after`, a usage limit) when the server said to wait.
 *
 * The latest reading holds the server's level when that call arrived, so what it cannot have counted yet
 * is taken off it, each at its time while the bucket refills: the arrival charges of every call admitted
 * after it and the output of calls that ended since (the API counts output as it is produced); the
 * expected output of every call in flight is held back as well.
 * Calls whose answers carry no headers (a compatible server without limits) are not metered at all; until
 * the first answer says which, one call goes at a time.
 *
 * A `shared` quota's buckets are kept in a `QuotaLedger` with the other processes on its key: here it
 * keeps only its blocks, the fill times it measures and the ledger's last answer.
 */
export class ModelQuota {
  readonly prefixes = new PrefixCache();
  private readonly buckets = new Map<QuotaDimension, QuotaBucket>();
  private metering: 'unknown' | 'headers' | 'none';
  /** The admission number of the call whose answer gave the latest reading. */
  private readingCall = 0;
  private readonly flights = new Map<number, Flight>();
  private lateOutputs: { at: number; tokens: number }[] = [];
  private block: { until: number; reason: string } | undefined;
  /** A call's place asked of the ledger and not yet answered: the next waits for that answer. */
  asking = false;
  private ledgerWait: { until: number; known: boolean; reason: string } | undefined;

  constructor(
    readonly key: string,
    readonly model: string,
    /** The provider's answers carry rate-limit headers (the Anthropic API); otherwise only blocks apply. */
    metered: boolean,
    readonly shared = false,
  ) {
    this.metering = metered ? 'unknown' : 'none';
  }

  get inFlight(): number {
    return this.flights.size;
  }

  /** The limits as last read, for a person: each bucket's size and how long it takes to fill. */
  limits(): { dimension: QuotaDimension; limit: number; fillMs: number }[] {
    return [...this.buckets].map(([dimension, bucket]) => ({
      dimension,
      limit: bucket.limit,
      fillMs: Math.round(bucket.fillTimeMs),
    }));
  }

  blockedUntil(now: number): number | undefined {
    return this.block !== undefined && this.block.until > now ? this.block.until : undefined;
  }

  /** How long a call of this size waits before it fits (0: it fits now). */
  waitFor(need: Pick<Flight, 'input' | 'output'>, now: number): QuotaWaitEstimate {
    if (this.block !== undefined && this.block.until > now)
      return { ms: this.block.until - now, known: true, reason: this.block.reason };
    if (this.shared) {
      const said = this.ledgerWait;
      if (this.asking) return { ms: 0, known: false, reason: '' };
      if (said !== undefined && said.until > now)
        return { ms: said.until - now, known: said.known, reason: said.reason };
      return { ms: 0, known: true, reason: '' };
    }
    if (this.metering === 'unknown')
      return this.flights.size === 0
        ? { ms: 0, known: true, reason: '' }
        : { ms: 0, known: false, reason: 'the first answer, which tells the limits' };
    let wait: QuotaWaitEstimate = { ms: 0, known: true, reason: '' };
    for (const [dimension, bucket] of this.metered()) {
      const [atArrival, atEnd] = CHARGES[dimension](need);
      const wanted = Math.min(bucket.limit, atArrival + atEnd);
      if (wanted <= 0) continue;
      const { charges, reserved } = this.pending(dimension, bucket.at);
      const level = bucket.level(now, charges) - reserved;
      if (level >= wanted) continue;
      // Refill alone makes room only for what fits beside the calls in flight; else one must end first.
      const known = wanted + reserved <= bucket.limit || this.flights.size === 0;
      const ms = Math.ceil((wanted - level) / bucket.rate);
      if (ms > wait.ms || (!known && wait.known)) {
        wait = { ms, known: known && wait.known, reason: `${WORDS[dimension]} of ${this.model}` };
      }
    }
    return wait;
  }

  /** The ledger's answer to the last ask: nothing goes before `until` (none: ask again at once). */
  ledgerSaid(wait: { until: number; known: boolean; reason: string } | undefined): void {
    this.ledgerWait = wait;
  }

  /** The buckets of a report as the ledger takes them, with the fill times measured here. */
  ledgerReadings(report: RateLimitReport): LedgerReading[] {
    const readings: LedgerReading[] = [];
    for (const [dimension, reading] of Object.entries(report.buckets) as [
      QuotaDimension,
      NonNullable<RateLimitReport['buckets'][QuotaDimension]>,
    ][]) {
      const fillMs = this.buckets.get(dimension)?.fillTimeMs;
      if (fillMs !== undefined)
        readings.push({ dimension, limit: reading.limit, remaining: reading.remaining, fillMs });
    }
    return readings;
  }

  admit(flight: Flight): void {
    this.flights.set(flight.call, flight);
  }

  /** An answer's headers (a success or a refusal): the buckets follow the newest reading. */
  report(call: number, report: RateLimitReport, sentAt: number = report.at): void {
    const entries = Object.entries(report.buckets) as [
      QuotaDimension,
      NonNullable<RateLimitReport['buckets'][QuotaDimension]>,
    ][];
    if (entries.length === 0) {
      // An answer begun without limits (a refusal's `retry-after` alone says nothing of them).
      if (this.metering === 'unknown' && report.retryAfterMs === undefined) this.metering = 'none';
      return;
    }
    this.metering = 'headers';
    if (call < this.readingCall) return;
    this.readingCall = call;
    for (const [dimension, reading] of entries) {
      const bucket = this.buckets.get(dimension);
      if (bucket) bucket.observe(reading, report.at, sentAt);
      else this.buckets.set(dimension, new QuotaBucket(reading, report.at, sentAt));
    }
    this.lateOutputs = this.lateOutputs.filter((o) => o.at > report.at);
  }

  /** The call ended: its output (when known) is charged, and it no longer holds a reservation. */
  finished(call: number, outcome: { answered: boolean; outputTokens: number }, now: number): void {
    if (!this.flights.delete(call)) return;
    if (outcome.outputTokens > 0) this.lateOutputs.push({ at: now, tokens: outcome.outputTokens });
    // An answer without rate-limit headers: this server does not meter.
    if (outcome.answered && this.metering === 'unknown') this.metering = 'none';
  }

  /** The server said to wait (a 429's `retry-after`, a usage limit's reset): nothing goes before `until`. */
  blockUntil(until: number, reason: string): void {
    if (this.block === undefined || until > this.block.until) this.block = { until, reason };
  }

  /** The buckets that bind: `tokens` only where the server does not split input from output. */
  private metered(): [QuotaDimension, QuotaBucket][] {
    const split = this.buckets.has('input-tokens') || this.buckets.has('output-tokens');
    return [...this.buckets].filter(([dimension]) => !(split && dimension === 'tokens'));
  }

  /**
   * What the latest reading has not counted: the arrivals of calls admitted after its call and the
   * output of calls that ended since (each when it was charged), and the output held for calls in flight.
   */
  private pending(
    dimension: QuotaDimension,
    readAt: number,
  ): { charges: { at: number; amount: number }[]; reserved: number } {
    const charges: { at: number; amount: number }[] = [];
    let reserved = 0;
    for (const flight of this.flights.values()) {
      const [atArrival, atEnd] = CHARGES[dimension](flight);
      if (flight.call > this.readingCall && atArrival > 0) charges.push({ at: flight.at, amount: atArrival });
      reserved += atEnd;
    }
    if (dimension === 'output-tokens' || dimension === 'tokens') {
      for (const ended of this.lateOutputs)
        if (ended.at > readAt) charges.push({ at: ended.at, amount: ended.tokens });
    }
    return { charges, reserved };
  }
}
