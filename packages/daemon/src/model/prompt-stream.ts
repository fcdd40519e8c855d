/**
 * A prompt given to Claude Code as streaming input: an async iterable of user messages that stays open
 * until `end()`. With a plain string prompt the Agent SDK closes the agent's stdin at the first result,
 * and a permission request answered later (`canUseTool`, the inbox) needs the channel still open.
 */
export class PromptStream<Message> implements AsyncIterable<Message> {
  private readonly queue: Message[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(first: Message) {
    this.queue.push(first);
  }

  /** Another message for the agent, delivered after those before it. */
  push(message: Message): void {
    if (this.ended) return;
    this.queue.push(message);
    this.wake?.();
  }

  /** No more input: the agent finishes what it is doing and exits. */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Message> {
    for (;;) {
      const next = this.queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
