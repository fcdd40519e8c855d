import type { BucketReading } from './rate-limit-report.js';

/** The API's limits are per minute: an empty bucket is full again a minute later. */
const DEFAULT_FILL_MS = 60_000;
/**
 * Readings that learn the fill time: enough taken to measure, and a reset far enough off for its
 * precision (the API's resets are to the second: 2 s away keeps the error within half).
 */
const MIN_DEFICIT_SHARE = 0.1;
const MIN_RESET_MS = { seconds: 2_000, milliseconds: 50 };
/** The median of the last few estimates: the API sends resets to the second, so one alone may be off. */
const FILL_ESTIMATES_KEPT = 9;

/**
 * What the daemon believes about one token bucket of one model's quota: its size, the level a reading
 * saw and when, and how fast it refills. The bucket refills continuously: `remaining` is what was left at
 * the reading, `resetAt` when it is full again, so (limit − remaining) / (resetAt − at) is its refill
 * rate. A server whose "minute" is not 60 s (a stand-in, a proxy) is measured the same way.
 */
export class QuotaBucket {
  private reading: BucketReading;
  private readAt: number;
  private fillMs = DEFAULT_FILL_MS;
  private readonly fillEstimates: number[] = [];

  constructor(reading: BucketReading, at: number, sentAt: number = at) {
    this.reading = reading;
    this.readAt = at;
    this.learn(reading, sentAt);
  }

  get limit(): number {
    return this.reading.limit;
  }

  /** Units refilled per ms. */
  get rate(): number {
    return this.reading.limit / this.fillMs;
  }

  /** How long an empty bucket takes to fill (ms), as measured. */
  get fillTimeMs(): number {
    return this.fillMs;
  }

  /**
   * A new reading, received at `at` for a call sent at `sentAt`. The level refills from `at` (the server
   * read it earlier: the level is a little low, never high); the fill time is measured from `sentAt`
   * (a little long, never short), so neither error lets a call through that the server would refuse.
   */
  observe(reading: BucketReading, at: number, sentAt: number = at): void {
    this.reading = reading;
    this.readAt = at;
    this.learn(reading, sentAt);
  }

  /**
   * The level at `now`: the reading, refilled as time passed, less what was taken since at the times it
   * was taken (`charges`, in any order), each refill capped at the bucket's size.
   */
  level(now: number, charges: readonly { at: number; amount: number }[] = []): number {
    const { limit, remaining } = this.reading;
    let level = remaining;
    let at = this.readAt;
    for (const charge of [...charges].sort((a, b) => a.at - b.at)) {
      const when = Math.max(at, charge.at);
      level = Math.min(limit, level + this.rate * (when - at)) - charge.amount;
      at = when;
    }
    return Math.min(limit, level + this.rate * Math.max(0, now - at));
  }

  /** When the reading was taken (epoch ms). */
  get at(): number {
    return this.readAt;
  }

  private learn({ limit, remaining, resetAt, precise }: BucketReading, at: number): void {
    const deficit = limit - remaining;
    const untilFull = resetAt - at;
    const minReset = precise ? MIN_RESET_MS.milliseconds : MIN_RESET_MS.seconds;
    // An empty bucket may be in debt (output is charged as it is produced): its level is not known.
    if (remaining <= 0 || deficit < Math.max(1, limit * MIN_DEFICIT_SHARE) || untilFull < minReset) return;
    // `remaining` is a whole number rounded down: the bucket may hold up to one more, so the deficit may
    // be one less. The smaller deficit gives the longer fill, never a refill faster than the server's
    // (with 4 requests a second, the deficit as read let two workers through 5 ms early: a 429). A
    // bucket one short of full is taken as one short: nothing smaller can be measured.
    this.fillEstimates.push((untilFull * limit) / Math.max(1, deficit - 1));
    if (this.fillEstimates.length > FILL_ESTIMATES_KEPT) this.fillEstimates.shift();
    const sorted = [...this.fillEstimates].sort((a, b) => a - b);
    this.fillMs = sorted[Math.floor(sorted.length / 2)]!;
  }
}
