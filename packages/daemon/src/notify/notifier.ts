import type { NotificationChannelStatus, NotifyOn } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';

/** One push: a line for people, and the whole of what it is about for scripts. */
export interface Notification {
  kind: NotifyOn;
  /** A short title (a desktop notification's summary). */
  title: string;
  /** One or two lines: what happened and what to do (`orc answer i4 allow|always|deny`). */
  text: string;
  /** What a command gets on its stdin, as JSON (the inbox item, or the run that ended). */
  payload: Record<string, unknown>;
}

/** Somewhere a notification goes: a command, a webhook, the desktop. */
export interface NotificationChannel {
  /** `command`, `webhook`, `desktop`. */
  readonly name: string;
  /** What it goes to, safe to show and log (a webhook without its secret path). */
  readonly target: string;
  /** Whether it can deliver here at all (`notify-send` is installed). */
  readonly available: boolean;
  deliver(notification: Notification, signal: AbortSignal): Promise<void>;
}

export interface NotifierOptions {
  channels: NotificationChannel[];
  clock: Clock;
  logger: Logger;
  /** Tries per notification and channel (default 5): the first, then retries with backoff. */
  tries?: number;
  /** First wait between tries (ms, doubling; default 1000). */
  backoffMs?: number;
  /** A delivery that takes longer fails (ms; default 15 s). */
  timeoutMs?: number;
  /** Deliveries waiting per channel beyond which new ones are dropped, and said so (default 100). */
  maxPending?: number;
}

interface ChannelState {
  channel: NotificationChannel;
  delivered: number;
  failed: number;
  pending: number;
  /** The channel's last delivery (queued or under way): the next one starts once it has ended. */
  tail: Promise<void>;
  lastError?: string;
  lastErrorAt?: string;
  lastDeliveredAt?: string;
}

/**
 * Pushes notifications to every configured channel without ever holding up the engine: `push` only
 * queues, each delivery runs with a timeout and retries with backoff on the Clock, and a channel that
 * keeps failing is logged and counted for `orc doctor`, never thrown to a run.
 *
 * A channel delivers in the order things happened, one at a time: a person reads "paused at its budget"
 * before "completed", and a command appending to a log gets them in that order. Two commands started at
 * once raced (a push's `sh` started second could append first); a retried delivery held back would be read
 * after what followed it. The price is that a later push waits for a failing one's retries; channels do
 * not wait for each other.
 */
export class Notifier {
  private readonly states: ChannelState[];
  private readonly running = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: NotifierOptions) {
    this.states = options.channels.map((channel) => ({
      channel,
      delivered: 0,
      failed: 0,
      pending: 0,
      tail: Promise.resolve(),
    }));
  }

  get channels(): readonly NotificationChannel[] {
    return this.options.channels;
  }

  push(notification: Notification): void {
    if (this.stopping.signal.aborted) return;
    for (const state of this.states) {
      if (!state.channel.available) continue;
      if (state.pending >= (this.options.maxPending ?? 100)) {
        this.failed(state, notification, new Error('too many notifications waiting; this one was dropped'));
        continue;
      }
      state.pending++;
      // deliver() never rejects: a failure is counted and logged there.
      const delivery = state.tail
        .then(() => this.deliver(state, notification))
        .finally(() => {
          state.pending--;
          this.running.delete(delivery);
        });
      state.tail = delivery;
      this.running.add(delivery);
    }
  }

  status(): NotificationChannelStatus[] {
    return this.states.map((state) => ({
      channel: state.channel.name,
      target: state.channel.target,
      available: state.channel.available,
      delivered: state.delivered,
      failed: state.failed,
      pending: state.pending,
      ...(state.lastError !== undefined && { lastError: state.lastError }),
      ...(state.lastErrorAt !== undefined && { lastErrorAt: state.lastErrorAt }),
      ...(state.lastDeliveredAt !== undefined && { lastDeliveredAt: state.lastDeliveredAt }),
    }));
  }

  /** Resolves once nothing is being delivered (tests; a daemon that stops). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Deliveries under way and queued get `graceMs`, then retries are given up and the queued dropped. */
  async stop(graceMs = 2_000): Promise<void> {
    const timer = new AbortController();
    await Promise.race([this.idle(), this.options.clock.sleep(graceMs, timer.signal).catch(() => undefined)]);
    timer.abort();
    this.stopping.abort();
    await this.idle();
  }

  private async deliver(state: ChannelState, notification: Notification): Promise<void> {
    const { clock, logger } = this.options;
    const tries = this.options.tries ?? 5;
    let wait = this.options.backoffMs ?? 1_000;
    if (this.stopping.signal.aborted) {
      // Queued behind a delivery that outlasted the stop's grace.
      this.failed(state, notification, new Error('the daemon stopped before it could be delivered'));
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const call = new AbortController();
      const onStop = () => call.abort(new Error('the daemon is stopping'));
      this.stopping.signal.addEventListener('abort', onStop, { once: true });
      const timer = new AbortController();
      const timeoutMs = this.options.timeoutMs ?? 15_000;
      clock.sleep(timeoutMs, timer.signal).then(
        () => call.abort(new Error(`no answer within ${timeoutMs / 1000}s`)),
        () => undefined,
      );
      try {
        await state.channel.deliver(notification, call.signal);
        state.delivered++;
        state.lastDeliveredAt = isoAt(clock);
        return;
      } catch (error) {
        const reason = call.signal.aborted ? (call.signal.reason as Error) : error;
        if (attempt >= tries || this.stopping.signal.aborted) {
          this.failed(state, notification, reason);
          return;
        }
        // Shown by orc doctor while the retries go on, not only once they are given up.
        state.lastError = messageOf(reason);
        state.lastErrorAt = isoAt(clock);
        logger.warn(
          { channel: state.channel.name, target: state.channel.target, attempt, err: reason },
          'a notification was not delivered; retrying',
        );
      } finally {
        timer.abort();
        this.stopping.signal.removeEventListener('abort', onStop);
      }
      const ok = await clock.sleep(wait, this.stopping.signal).then(
        () => true,
        () => false,
      );
      if (!ok) {
        this.failed(state, notification, new Error('the daemon stopped before it could be retried'));
        return;
      }
      wait *= 2;
    }
  }

  private failed(state: ChannelState, notification: Notification, error: unknown): void {
    state.failed++;
    state.lastError = messageOf(error);
    state.lastErrorAt = isoAt(this.options.clock);
    this.options.logger.error(
      { channel: state.channel.name, target: state.channel.target, kind: notification.kind, err: error },
      'a notification could not be delivered',
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
