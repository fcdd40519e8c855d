/**
 * Coalesces redraw requests into frames at most `intervalMs` apart: a run emitting a thousand events a
 * second costs twenty renders, not a thousand.
 */
export class FrameScheduler {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private stopped = false;

  constructor(
    private readonly draw: () => void,
    private readonly intervalMs = 50,
    private readonly now: () => number = Date.now,
  ) {}

  request(): void {
    if (this.timer !== undefined || this.stopped) return;
    const wait = Math.max(0, this.last + this.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.last = this.now();
      this.draw();
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
