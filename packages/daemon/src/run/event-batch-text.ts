import type { EventBatch, OrcEvent } from '@orc/shared';

/**
 * A batch of a run's events kept as JSON text: the lines the journal wrote them as, joined into the
 * batch's message. The journal serialises each event once, for its file and for every subscriber: the
 * wire's text was a second `JSON.stringify` of the same events. The batches a run keeps for its
 * subscribers (RecentBatches) hold this text, ~250 bytes an event at full speed, and not the events'
 * objects (which measured about as large: 135 bytes of shell each, plus the spend and usage objects only
 * they held), so what is kept no longer depends on what the events point to.
 *
 * It is an `EventBatch`: a reader in the daemon that wants the events gets them parsed (`events`, made
 * each time it is read: a batch kept for many subscribers does not keep its objects). The RPC layer sends
 * `json` as it is (see `share`); `toJSON` gives the same text's value to any other `JSON.stringify`.
 */
export class EventBatchText implements EventBatch {
  private constructor(
    readonly runId: string,
    /** The first event's id; the others follow one by one. */
    readonly firstId: number,
    /** How many events it holds (at least one). */
    readonly count: number,
    /** When the journal made it durable; undefined for a replay (it is catching up, not delivered late). */
    readonly committedAt: number | undefined,
    /** The first event's `at` (the delivery metric's start). */
    readonly oldestAt: string,
    /** `[line,line,…]`: the events' JSON. */
    private readonly array: string,
    /** Where each event's line starts in `array`. */
    private readonly starts: readonly number[],
  ) {}

  /** A batch of `events` (consecutive ids, at least one) whose JSON lines are `lines`. */
  static of(events: readonly OrcEvent[], lines: readonly string[], committedAt?: number): EventBatchText {
    const first = events[0]!;
    const starts: number[] = new Array<number>(lines.length);
    let at = 1;
    for (let i = 0; i < lines.length; i++) {
      starts[i] = at;
      at += lines[i]!.length + 1;
    }
    return new EventBatchText(
      first.runId,
      first.id,
      events.length,
      committedAt,
      first.at,
      `[${lines.join(',')}]`,
      starts,
    );
  }

  /** A batch of `events` read back (a replay): serialised here, for one subscriber. */
  static replayed(events: readonly OrcEvent[]): EventBatchText {
    return EventBatchText.of(
      events,
      events.map((event) => JSON.stringify(event)),
    );
  }

  get lastId(): number {
    return this.firstId + this.count - 1;
  }

  /** The events, parsed from the text (each read parses: see the class comment). */
  get events(): OrcEvent[] {
    return JSON.parse(this.array) as OrcEvent[];
  }

  /** The message a subscriber gets: `{"events":[…],"committedAt":…}`, as `JSON.stringify` writes it. */
  get json(): string {
    const committed = this.committedAt === undefined ? '' : `,"committedAt":${this.committedAt}`;
    return `{"events":${this.array}${committed}}`;
  }

  toJSON(): EventBatch {
    return this.committedAt === undefined
      ? { events: this.events }
      : { events: this.events, committedAt: this.committedAt };
  }

  /** The events after `afterId`: this batch when all are, undefined when none is. */
  after(afterId: number): EventBatchText | undefined {
    if (afterId < this.firstId) return this;
    if (afterId >= this.lastId) return undefined;
    const skip = afterId - this.firstId + 1;
    const start = this.starts[skip]!;
    const next = this.starts[skip + 1];
    const first = JSON.parse(this.array.slice(start, next === undefined ? -1 : next - 1)) as OrcEvent;
    return new EventBatchText(
      this.runId,
      afterId + 1,
      this.count - skip,
      this.committedAt,
      first.at,
      `[${this.array.slice(start)}`,
      this.starts.slice(skip).map((s) => s - start + 1),
    );
  }

  /** The events up to `lastId` (at least the first): this batch when all are. */
  upTo(lastId: number): EventBatchText {
    if (lastId >= this.lastId) return this;
    const keep = Math.max(1, lastId - this.firstId + 1);
    return new EventBatchText(
      this.runId,
      this.firstId,
      keep,
      this.committedAt,
      this.oldestAt,
      // Up to the comma before the first event left out.
      `${this.array.slice(0, this.starts[keep]! - 1)}]`,
      this.starts.slice(0, keep),
    );
  }

  /**
   * The same events delivered live, made durable at `committedAt` (a subscriber that fell behind what
   * memory keeps reads them back from the file, late).
   */
  committed(committedAt: number): EventBatchText {
    return new EventBatchText(
      this.runId,
      this.firstId,
      this.count,
      committedAt,
      this.oldestAt,
      this.array,
      this.starts,
    );
  }

  /** The same events as a replay (no `committedAt`): they were published before the subscriber came. */
  asReplay(): EventBatchText {
    if (this.committedAt === undefined) return this;
    return new EventBatchText(
      this.runId,
      this.firstId,
      this.count,
      undefined,
      this.oldestAt,
      this.array,
      this.starts,
    );
  }
}
