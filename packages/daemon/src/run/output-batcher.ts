import { after, type Clock } from '../clock.js';

/**
 * Streamed model output arrives a few characters at a time; every piece would otherwise be its own
 * journalled event. This gathers a call's text and hands it on at most once per `intervalMs`, and the
 * rest when the call ends, unless the call's answer tells it (`answered`).
 */
export class OutputBatcher {
  private pending = '';
  /** What was handed on so far. */
  private told = '';
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

  /** Hands on what waits now: the call ended without an answer to tell the rest. */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.told += text;
    this.deliver(text);
  }

  /**
   * The call ended with `answer`, which its caller tells whole. When the stream was the answer, what
   * waits is not handed on (the answer tells it: at full speed a model's answer comes in one piece, and
   * it went out twice) and the answer's first `streamed` characters are what was: the caller says so.
   * Otherwise (an agent streams its narration, not its answer) what waits is handed on: undefined.
   */
  answered(answer: string): { streamed: number } | undefined {
    this.cancel?.();
    this.cancel = undefined;
    const { told, pending } = this;
    const isStream =
      answer.length === told.length + pending.length && answer.startsWith(told) && answer.endsWith(pending);
    if (!isStream) {
      this.flush();
      return undefined;
    }
    this.pending = '';
    // Said even when the stream told it all: without it, a line for the answer cannot tell that from
    // an agent's narration and shows the answer's start again (`orc logs` did).
    return { streamed: told.length };
  }
}
