/**
 * What is done about a lost link: a daemon is being started, the daemon was stopped on purpose and is left
 * so, or the client only waits (it cannot start one, or a start is on its way).
 */
export type LossAnswer = 'starting' | 'stopped' | 'waiting';

/** What the screen and a following command say of a daemon stopped on purpose. */
export const STOPPED_DAEMON = 'the daemon was stopped (orc daemon stop)';

/** What the screen says of the run's clock while it cannot reach the daemon (it stops with the daemon). */
export const TIME_HELD = "the run's time stands still until it is back";

/**
 * The screen's alert for each answer to a lost link, for a person looking at the screen: what brings the
 * daemon back, and that the screen follows by itself.
 */
export const LOST_ALERTS: Readonly<Record<LossAnswer, string>> = {
  starting: `Cannot reach the daemon (the connection closed); reconnecting, and starting it if it is gone; ${TIME_HELD}. q leaves.`,
  stopped: `The ${STOPPED_DAEMON.slice(4)}: orc daemon start in another terminal brings it back and this screen follows; ${TIME_HELD}. q leaves.`,
  waiting: `Cannot reach the daemon (the connection closed); reconnecting; ${TIME_HELD}. q leaves.`,
};

/**
 * Brings back a daemon that went away under a client (killed, crashed), as an `orc` command would start
 * it: once per loss of the link, while the client reconnects by itself. Not one a person stopped: that
 * stop is theirs to undo. A start that fails is said, not tried again and again; the next loss, or
 * another `orc` command, tries again.
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

  /** The link dropped; `stopped` when the daemon said it was stopped on purpose. */
  lost(stopped: boolean): LossAnswer {
    if (stopped) return 'stopped';
    if (this.start === undefined || this.starting) return 'waiting';
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
    return 'starting';
  }
}
