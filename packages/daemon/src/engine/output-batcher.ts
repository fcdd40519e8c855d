/**
 * Streamed model output arrives a few characters at a time; every piece would otherwise be its own
 * journalled event. This gathers a call's text and hands it on at most once per `intervalMs`, and the rest
 * when the call ends.
 */
export class OutputBatcher {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deliver: (text: string) => void,
    private readonly intervalMs = 100,
  ) {}

  push(text: string): void {
    this.pending += text;
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.deliver(text);
  }
}
