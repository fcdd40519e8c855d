import { after, type Clock } from '../clock.js';

/**
 * Streamed model output arrives a few characters at a time; every piece would otherwise be its own
 * journalled event. This gathers a call's text and hands it on at most once per `intervalMs`, and the
 * rest when the call ends.
 */
export class OutputBatcher {
  private pending = '';
  /** Calls off the wait for the interval's end, while one is on. */
  private cancel: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (text: string) => void,
    private readonly intervalMs = 100,
  ) {}

  push(text: string): void {
    this.pending += text;
    if (this.cancel) return;
    this.cancel = after(this.clock, this.intervalMs, () => {
      this.cancel = undefined;
      this.flush();
    });
  }

  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.deliver(text);
  }
}
