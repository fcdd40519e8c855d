import { WAIT_CALLED_OFF, type Clock } from '../clock.js';

/**
 * Streamed model output arrives a few characters at a time; every piece would otherwise be its own
 * journalled event. This gathers a call's text and hands it on at most once per `intervalMs`, and the
 * rest when the call ends.
 */
export class OutputBatcher {
  private pending = '';
  private timer: AbortController | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (text: string) => void,
    private readonly intervalMs = 100,
  ) {}

  push(text: string): void {
    this.pending += text;
    if (this.timer) return;
    const timer = new AbortController();
    this.timer = timer;
    this.clock.sleep(this.intervalMs, timer.signal).then(
      () => this.flush(),
      () => {}, // flushed before the interval ended
    );
  }

  flush(): void {
    this.timer?.abort(WAIT_CALLED_OFF);
    this.timer = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.deliver(text);
  }
}
