/**
 * The stand-in's rate limits, enforced as the Anthropic API describes its own: per model (per API key and model, as the stand-in calls it), a token bucket
 * each for requests, input tokens and output tokens, refilled continuously so that an empty bucket is
 * full again after a minute. Cache reads do not count as input. A request is refused (429, with
 * `retry-after` and the headers) when a bucket cannot cover it as it arrives: a request, its uncached
 * input, and an output bucket that is not in debt. Output is charged when the answer ends, by what it
 * used (the bucket may go below zero then; the next requests wait until it refills).
 */

export interface RateLimits {
  requestsPerMinute?: number;
  inputTokensPerMinute?: number;
  outputTokensPerMinute?: number;
  /** How long the stand-in's "minute" lasts (ms); a benchmark shortens it. Default 60,000. */
  minuteMs?: number;
}

type Dimension = 'requests' | 'input-tokens' | 'output-tokens';

class Bucket {
  private level: number;
  private at: number;
  readonly rate: number;

  constructor(
    readonly limit: number,
    minuteMs: number,
    now: number,
  ) {
    this.level = limit;
    this.at = now;
    this.rate = limit / minuteMs;
  }

  levelAt(now: number): number {
    this.level = Math.min(this.limit, this.level + this.rate * Math.max(0, now - this.at));
    this.at = Math.max(this.at, now);
    return this.level;
  }

  take(amount: number, now: number): void {
    this.levelAt(now);
    this.level -= amount;
  }

  /** How long until the level reaches `amount` (at most the limit). */
  waitFor(amount: number, now: number): number {
    const level = this.levelAt(now);
    const wanted = Math.min(amount, this.limit);
    return level >= wanted ? 0 : (wanted - level) / this.rate;
  }

  headers(name: Dimension, now: number): Record<string, string> {
    const level = this.levelAt(now);
    const fullIn = Math.max(0, (this.limit - level) / this.rate);
    return {
      [`anthropic-ratelimit-${name}-limit`]: String(this.limit),
      [`anthropic-ratelimit-${name}-remaining`]: String(Math.max(0, Math.floor(level))),
      [`anthropic-ratelimit-${name}-reset`]: new Date(now + fullIn).toISOString(),
    };
  }
}

/** What a request asks of the limits when it arrives. */
export interface Arrival {
  model: string;
  /** Uncached input: input tokens plus cache writes. */
  inputTokens: number;
}

export class RateLimitBuckets {
  private readonly models = new Map<string, Map<Dimension, Bucket>>();

  constructor(private readonly limits: RateLimits) {}

  /** Admits the request (charging its request and input) or says how long it must wait (ms). */
  arrive({ model, inputTokens }: Arrival, now: number): { ok: true } | { ok: false; waitMs: number } {
    const buckets = this.bucketsOf(model, now);
    const needs: [Dimension, number][] = [
      ['requests', 1],
      ['input-tokens', inputTokens],
      // Output in debt refuses the request until it is back above zero.
      ['output-tokens', Number.MIN_VALUE],
    ];
    let waitMs = 0;
    for (const [dimension, amount] of needs) {
      const bucket = buckets.get(dimension);
      if (bucket) waitMs = Math.max(waitMs, bucket.waitFor(amount, now));
    }
    if (waitMs > 0) return { ok: false, waitMs };
    buckets.get('requests')?.take(1, now);
    buckets.get('input-tokens')?.take(inputTokens, now);
    return { ok: true };
  }

  /** The answer ended: its output is charged. */
  answered(model: string, outputTokens: number, now: number): void {
    this.bucketsOf(model, now).get('output-tokens')?.take(outputTokens, now);
  }

  /** The `anthropic-ratelimit-*` headers for the model, `tokens-*` being the tighter token bucket. */
  headers(model: string, now: number): Record<string, string> {
    const buckets = this.bucketsOf(model, now);
    const headers: Record<string, string> = {};
    for (const [dimension, bucket] of buckets) Object.assign(headers, bucket.headers(dimension, now));
    const tokenBuckets = (['input-tokens', 'output-tokens'] as const)
      .map((d) => buckets.get(d))
      .filter((b): b is Bucket => b !== undefined);
    const tightest = tokenBuckets.sort((a, b) => a.levelAt(now) / a.limit - b.levelAt(now) / b.limit)[0];
    if (tightest) {
      for (const [name, value] of Object.entries(tightest.headers('input-tokens', now)))
        headers[name.replace('input-tokens', 'tokens')] = value;
    }
    return headers;
  }

  private bucketsOf(model: string, now: number): Map<Dimension, Bucket> {
    let buckets = this.models.get(model);
    if (!buckets) {
      const minuteMs = this.limits.minuteMs ?? 60_000;
      buckets = new Map();
      const sizes: [Dimension, number | undefined][] = [
        ['requests', this.limits.requestsPerMinute],
        ['input-tokens', this.limits.inputTokensPerMinute],
        ['output-tokens', this.limits.outputTokensPerMinute],
      ];
      for (const [dimension, limit] of sizes)
        if (limit !== undefined) buckets.set(dimension, new Bucket(limit, minuteMs, now));
      this.models.set(model, buckets);
    }
    return buckets;
  }
}
