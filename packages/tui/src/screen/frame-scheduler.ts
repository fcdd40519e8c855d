/**
 * Coalesces redraw requests into frames at most `intervalMs` apart: a run emitting a thousand events a
 * second costs twenty renders, not a thousand. What a person asked for (a key, the rows a key fetched)
 * is drawn on the next turn instead: waiting for the frame's slot was up to 50 ms of a key's 100.
 */
export class FrameScheduler {
  private timer: NodeJS.Timeout | undefined;
  private soon = false;
  private last = 0;
  private stopped = false;

  constructor(
    private readonly draw: () => void,
    private readonly intervalMs = 50,
    private readonly now: () => number = Date.now,
  ) {}

  /** A frame at the next slot; `soon`: on the next turn of the event loop, whatever the slot. */
  request(soon = false): void {
    if (this.stopped) return;
    if (this.timer !== undefined) {
      if (!soon || this.soon) return;
      clearTimeout(this.timer);
    }
    this.soon = soon;
    const wait = soon ? 0 : Math.max(0, this.last + this.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.soon = false;
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
