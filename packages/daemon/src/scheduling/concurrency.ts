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
