/**
 * Coalesces redraw requests into frames at most `intervalMs` apart: a run emitting a thousand events a
 * second costs twenty renders, not a thousand. What a person asked for (a key, the rows a key fetched)
 * is drawn as soon as the code that asked returns, before the event loop reads more of the event stream:
 * waiting for the frame's slot was up to 50 ms of a key's 100, and waiting for the next turn of the loop
 * (a timer) let the stream's messages read meanwhile be decoded first, 40–50 ms at 100k at full speed.
 */
export class FrameScheduler {
  private timer: NodeJS.Timeout | undefined;
  /** A frame is queued to be drawn before the next event of the loop. */
  private soon = false;
  private last = 0;
  private stopped = false;

  constructor(
    private readonly draw: () => void,
    private readonly intervalMs = 50,
    private readonly now: () => number = Date.now,
  ) {}

  /** A frame at the next slot; `soon`: once the current code returns, whatever the slot. */
  request(soon = false): void {
    if (this.stopped || this.soon) return;
    if (soon) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.soon = true;
      // Keys read together (a held key, a paste) are drawn once.
      queueMicrotask(() => {
        this.soon = false;
        if (!this.stopped) this.frame();
      });
      return;
    }
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.last + this.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.frame();
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private frame(): void {
    this.last = this.now();
    this.draw();
  }
}
