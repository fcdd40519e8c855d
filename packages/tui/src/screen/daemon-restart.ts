/**
 * Brings back a daemon that went away under the screen (killed, crashed), as an `orc` command would start
 * it: once per loss of the link, while the client reconnects by itself. A start that fails is said, not
 * tried again and again; the next loss, or another `orc` command, tries again.
 */
export class DaemonRestart {
  private starting = false;

  constructor(
    private readonly start: (() => Promise<string | undefined>) | undefined,
    private readonly said: {
      /** What the start did (`the daemon (pid 12) had died; started a new one (pid 40) …`). */
      started(text: string): void;
      failed(error: unknown): void;
    },
  ) {}

  /** The link dropped: true when a start is tried (none when it cannot start one, or one is on its way). */
  lost(): boolean {
    if (this.start === undefined || this.starting) return false;
    this.starting = true;
    this.start().then(
      (text) => {
        this.starting = false;
        if (text !== undefined) this.said.started(text);
      },
      (error: unknown) => {
        this.starting = false;
        this.said.failed(error);
      },
    );
    return true;
  }
}
