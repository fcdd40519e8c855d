/**
 * A run's own cap on model calls in flight: `max_workers`, halved when the API answers 429 or 529 and
 * raised one step per successful call until it is back at the configured value (AIMD, as TCP does).
 */
export class AdaptiveLimit {
  private current: number;

  constructor(readonly max: number) {
    this.current = max;
  }

  get value(): number {
    return this.current;
  }

  /** Returns true when the limit changed. */
  onRateLimited(): boolean {
    const next = Math.max(1, Math.ceil(this.current / 2));
    const changed = next !== this.current;
    this.current = next;
    return changed;
  }

  onSuccess(): boolean {
    if (this.current >= this.max) return false;
    this.current += 1;
    return true;
  }

  reset(): void {
    this.current = this.max;
  }
}

/**
 * The machine-wide budget of model calls in flight, shared by every run of the daemon (API rate limits
 * are per key, not per run). Waiters are served first come, first served.
 */
export class SlotPool {
  private inUse = 0;
  private readonly waiters: { resolve: () => void; reject: (e: unknown) => void; signal?: AbortSignal }[] =
    [];
  /** Highest number of slots ever held at once, for tests and benchmarks. */
  peak = 0;

  constructor(readonly capacity: number) {}

  get used(): number {
    return this.inUse;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    if (this.inUse < this.capacity) {
      this.inUse += 1;
      this.peak = Math.max(this.peak, this.inUse);
      return this.releaser();
    }
    // A released slot is handed straight to the first waiter, so nobody can slip in between.
    await new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject, ...(signal && { signal }) };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.resolve();
      else this.inUse -= 1;
    };
  }
}
