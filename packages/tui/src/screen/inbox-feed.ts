import type { InboxEvent, InboxItem } from '@orc/shared';
import type { InboxClient } from './inbox-client.js';

const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 5000];

export interface InboxFeedHandlers {
  /** The open items changed, or whether the inbox can be followed did. */
  onChange(): void;
  /** An item was pushed (`inbox.notified`: after its grace, if `notifications.on` lists its kind). */
  onNotified(item: InboxItem): void;
}

/** How many items wait: for the run on screen, and for every run of the daemon. */
export interface WaitingCount {
  run: number;
  all: number;
}

/**
 * The daemon's open inbox items, kept live for the screen: listed once, then followed through
 * `inbox.events` from the list's last event id (so nothing opened in between is missed). A stream that
 * breaks is listed and followed anew with backoff; `restart` does the same when the link came back.
 */
export class InboxFeed {
  private readonly open = new Map<string, InboxItem>();
  /** Items this screen answered: a late `opened` or `notified` event of theirs must not bring them back. */
  private readonly answered = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  /** Bumped on every (re)start, so callbacks of an older subscription are ignored. */
  private generation = 0;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** An answer of this screen's that asks for a new version (a plan to change): whose, and of what kind. */
  private awaited: Pick<InboxItem, 'runId' | 'type'> | undefined;
  /** The item that came in its place, until the inbox panel selects it. */
  private replacement: string | undefined;
  /** Why the inbox cannot be followed now (shown in the inbox view); undefined while it can. */
  error: string | undefined;
  /** The items were listed once: until then, none listed does not mean none wait. */
  loaded = false;

  constructor(
    private readonly client: InboxClient,
    private readonly handlers: InboxFeedHandlers,
  ) {}

  start(): void {
    void this.follow();
  }

  /** Lists the items afresh and follows from there: the daemon may have restarted. */
  restart(): void {
    if (!this.stopped) void this.follow();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.retryTimer);
  }

  /** The open items, those of `firstRun` first, then the longest waiting first. */
  items(firstRun?: string): InboxItem[] {
    return [...this.open.values()].sort(
      (a, b) =>
        Number(b.runId === firstRun) - Number(a.runId === firstRun) || a.openedAt.localeCompare(b.openedAt),
    );
  }

  /** The item that came in place of one answered here with a note (a plan changed), once; undefined if none. */
  takeReplacement(): string | undefined {
    const id = this.replacement;
    this.replacement = undefined;
    return id !== undefined && this.open.has(id) ? id : undefined;
  }

  count(runId: string): WaitingCount {
    let run = 0;
    for (const item of this.open.values()) if (item.runId === runId) run++;
    return { run, all: this.open.size };
  }

  /** Gives the daemon a person's answer; resolves with the closed item, rejects with the daemon's reason. */
  async answer(item: InboxItem, choice: string, note?: string): Promise<InboxItem> {
    const closed = await this.client.answer.mutate({
      itemId: item.id,
      choice,
      ...(note !== undefined && { note }),
    });
    this.answered.add(item.id);
    this.open.delete(item.id);
    // A choice that takes a note has the daemon ask again (the plan, changed): that item is followed.
    if (item.choices.find((c) => c.id === choice)?.needsNote) {
      this.awaited = { runId: item.runId, type: item.type };
      this.replacement = undefined;
    }
    this.handlers.onChange();
    return closed;
  }

  private async follow(): Promise<void> {
    const generation = ++this.generation;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.retryTimer);
    try {
      const list = await this.client.list.query();
      if (this.stopped || generation !== this.generation) return;
      this.open.clear();
      for (const item of list.items) this.open.set(item.id, item);
      this.error = undefined;
      this.loaded = true;
      this.retries = 0;
      const subscription = this.client.events.subscribe(
        { lastEventId: list.lastEventId > 0 ? String(list.lastEventId) : null },
        {
          onData: ({ data }) => {
            if (generation === this.generation) this.apply(data);
          },
          onError: (error) => {
            if (generation === this.generation) this.lost(error);
          },
          // The daemon ends a stream it cannot keep up (a slow client): follow anew from a fresh list.
          onComplete: () => {
            if (generation === this.generation) this.lost(new Error('the inbox stream ended'));
          },
        },
      );
      this.unsubscribe = () => subscription.unsubscribe();
      this.handlers.onChange();
    } catch (error) {
      if (!this.stopped && generation === this.generation) this.lost(error);
    }
  }

  private apply(event: InboxEvent): void {
    const { item } = event;
    if (event.type === 'inbox.closed') this.open.delete(item.id);
    else if (!this.answered.has(item.id)) {
      this.open.set(item.id, item);
      const awaited = this.awaited;
      if (event.type === 'inbox.opened' && awaited?.runId === item.runId && awaited.type === item.type) {
        this.awaited = undefined;
        this.replacement = item.id;
      }
      if (event.type === 'inbox.notified') this.handlers.onNotified(item);
    }
    this.handlers.onChange();
  }

  private lost(error: unknown): void {
    if (this.stopped) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.generation++;
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)]!;
    this.retries++;
    this.error = error instanceof Error ? error.message : String(error);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.follow(), delay);
    this.handlers.onChange();
  }
}
