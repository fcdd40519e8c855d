import { performance } from 'node:perf_hooks';
import type { NewEvent, OrcEvent } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import type { RunStore } from '../store/store.js';
import { writeFailureOf } from '../store/write-failure.js';
import type { EventBatchText } from './event-batch-text.js';
import { CommitTimes } from './commit-times.js';
import { batchesOf, commitBatches, eventsOf } from './event-batches.js';
import { RecentBatches } from './recent-batches.js';

/**
 * Published events kept in memory (see RecentBatches): a subscriber behind by fewer catches up from the
 * batches every subscriber got. The old per-subscriber buffer of 10,000 events switched all eleven
 * subscribers of the live screen case to a replay from the file whenever a slow fsync made one large
 * commit, and they fell behind again while parsing it (event-log read 11% of the daemon's CPU).
 * 8,192 (8,192 to 16,384 kept) is 0.2 to 0.4 s of a 100k run at full speed, what the old buffer held,
 * enough for a client that joins at the view's `lastEventId`; the scale case's peak RSS was 694 MB with
 * main's 4,096, 715 MB with 4,096 here, 782 MB with 16,384, 756-767 MB with 50,000.
 */
const RECENT_LIMIT = 8_192;
/**
 * Kept while the run has subscribers: about what one may have queued (`pacedBytes`, 8 MiB at ~250 bytes
 * an event) before its stream waits for its socket, so one that lags by that much reads on from memory. From the
 * file, each lagging subscriber read and parsed the events for itself: with 8,192 kept that was 15% of
 * the daemon's CPU in the live screen case once its ten subscribers lagged by a second, 0.7% with this.
 * It costs memory while followed: the scale case's peak RSS (its recovery run has a watcher) was 697-716
 * MB with 8,192 kept, 771-859 MB with this (load 10-14); a run nobody follows keeps RECENT_LIMIT.
 */
const FOLLOWED_LIMIT = 32_768;
/**
 * Backoff between tries to append to a journal whose disk failed. The run pauses meanwhile, so only a few
 * events wait and each try is cheap; a storage probe asks sooner (retryNow).
 */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;

/** Told of the journal's work (the daemon's metrics). */
export interface JournalObserver {
  /** A group commit of `events` took `ms` (append and fsync). */
  written(events: readonly OrcEvent[], ms: number): void;
  /** A subscriber came (1) or went (-1). */
  subscribed(delta: 1 | -1): void;
}

const UNOBSERVED: JournalObserver = { written() {}, subscribed() {} };

/** How a subscription follows the journal (see RunJournal.eventBatches). */
export interface FollowOptions {
  /** A client back after its connection closed: every event after the id it gives is owed to it live. */
  resumed?: boolean;
}

/**
 * A run's event stream. Every event gets the next id, is appended to `events.jsonl` (group-committed and
 * fsynced) and only then published, so whatever a client sees is durable, and a client that comes back
 * with the last id it saw can be served the rest from the file, then live, with no gap and no duplicate.
 */

export class RunJournal {
  private nextId: number;
  private pending: OrcEvent[] = [];
  private flushing: Promise<void> | undefined;
  private readonly listeners = new Set<(event: OrcEvent) => void>();
  /** Woken by each group commit once it is published (the batches are in `recent`). */
  private readonly commitListeners = new Set<() => void>();
  /** Published (durable) events in the batches subscribers get, oldest first; consecutive ids. */
  private readonly recent = new RecentBatches();
  /** Streams following the journal now (`eventBatches`). */
  private following = 0;
  /** When each recent commit was made durable: a live subscriber reading the file is timed by it. */
  private readonly commitTimes = new CommitTimes();
  /** Why the last append failed, until one succeeds again; the events wait in memory meanwhile. */
  private failed: unknown;
  /** The wait before the next try, cut short by `retryNow` or `close`. */
  private retryWait: AbortController | undefined;
  /** Told how each try to append ended (undefined: it worked). */
  private tried: ((error: Error | undefined) => void)[] = [];
  /** Tasks whose `task.completed` is not on disk yet, and how many such events each has in flight. */
  private readonly unconfirmed = new Map<string, number>();
  /** The id of the last event on disk (and published). */
  private writtenId: number;
  /** Who waits for an event to be on disk (`written`): told true once it is, false once a write fails. */
  private writeWaiters: { id: number; resolve: (written: boolean) => void }[] = [];
  private closed = false;

  constructor(
    private readonly runId: string,
    lastId: number,
    private readonly store: RunStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly observer: JournalObserver = UNOBSERVED,
  ) {
    this.nextId = lastId + 1;
    this.writtenId = lastId;
  }

  /** The id of the last event handed out (durable or about to be). */
  get lastId(): number {
    return this.nextId - 1;
  }

  /** Why the journal cannot be written, while it cannot: nothing the run does now would be on disk. */
  get failure(): string | undefined {
    return this.failed === undefined
      ? undefined
      : writeFailureOf(`the journal of run ${this.runId}`, this.failed, this.runId).message;
  }

  /** Whether the task's completion is told in memory only, not yet on disk: it does not count as done. */
  unconfirmedDone(): ReadonlySet<string> {
    return new Set(this.unconfirmed.keys());
  }

  /**
   * Resolves true once the event `id` (and every one before it) is on disk, at once if it is; false as
   * soon as the journal cannot be written (it may be for minutes: a full disk) or is closed, so a caller
   * never waits on a failed disk.
   */
  written(id: number): Promise<boolean> {
    if (id <= this.writtenId) return Promise.resolve(true);
    if (this.failed !== undefined || this.closed) return Promise.resolve(false);
    return new Promise((resolve) => this.writeWaiters.push({ id, resolve }));
  }

  /** Journals the event; `at` is its time when the change it tells was stamped before (default: now). */
  emit(event: NewEvent, at?: string): OrcEvent {
    // The id goes first in the line: catching up from the file skips older lines without parsing them.
    const full = { id: this.nextId++, runId: this.runId, at: at ?? isoAt(this.clock), ...event };
    // The run changes a task record and tells of it in the same turn: its saved text is stale.
    if ('taskId' in full) this.store.taskChanged(this.runId, full.taskId);
    if (full.type === 'task.completed')
      this.unconfirmed.set(full.taskId, (this.unconfirmed.get(full.taskId) ?? 0) + 1);
    this.pending.push(full);
    this.flushing ??= this.flush();
    return full;
  }

  /** Resolves when every event emitted so far is durable and published (however long the disk takes). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /**
   * For a storage probe: tries the events waiting for a failed disk now, rather than at the next retry.
   * Resolves once they are written; rejects if this try fails too. Nothing failed: resolves at once.
   */
  async retryNow(): Promise<void> {
    if (this.failed === undefined) return;
    const tried = new Promise<void>((resolve, reject) =>
      this.tried.push((error) => (error === undefined ? resolve() : reject(error))),
    );
    this.retryWait?.abort();
    await tried;
  }

  /**
   * The daemon stops: events not yet written get `graceMs` to be, or one more try when the disk already
   * failed them (waiting on it holds the daemon up for nothing); what still cannot be written is dropped.
   * It was never published, so no client has seen an id that is then reused.
   */
  async close(graceMs = 0): Promise<void> {
    if (this.failed !== undefined) {
      await this.retryNow().catch(() => undefined);
    } else if (this.flushing) {
      const timer = new AbortController();
      await Promise.race([this.drain(), this.clock.sleep(graceMs, timer.signal).catch(() => undefined)]);
      timer.abort();
    }
    this.closed = true;
    this.retryWait?.abort();
    await this.drain();
    this.tellWaiters(false);
  }

  subscribe(listener: (event: OrcEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private publish(events: OrcEvent[], lines: string[]): void {
    const committedAt = this.clock.now();
    this.commitTimes.add(events[0]!.id, events.at(-1)!.id, committedAt);
    const limit = this.following > 0 ? FOLLOWED_LIMIT : RECENT_LIMIT;
    this.recent.add(commitBatches(events, lines, committedAt), limit);
    for (const listener of this.commitListeners) listener();
  }

  private async flush(): Promise<void> {
    let wait = RETRY_FIRST_MS;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const started = performance.now();
      // Serialised once, for the file and for every subscriber (the batches keep this text).
      const lines = batch.map((event) => JSON.stringify(event));
      try {
        await this.store.appendEvents(this.runId, batch, lines);
        this.observer.written(batch, performance.now() - started);
      } catch (error) {
        this.told(error);
        if (this.closed) {
          // The store is gone (the daemon is stopping): these events were never published, so no id is seen twice.
          this.logger.error(
            { err: error, runId: this.runId, dropped: batch.length + this.pending.length },
            'journal closed; events dropped',
          );
          for (const event of batch) this.confirmed(event);
          this.pending = [];
          this.tellWaiters(false);
          break;
        }
        // Disk full or similar: the events wait (never published before they are durable) and the run is
        // told by the store, so it stops making more; tried again with backoff, or when a probe asks.
        if (this.failed === undefined)
          this.logger.error({ err: error, runId: this.runId }, 'cannot append to the event journal; waiting');
        this.failed = error;
        this.tellWaiters(false);
        this.pending = [...batch, ...this.pending];
        const retryWait = new AbortController();
        this.retryWait = retryWait;
        await this.clock.sleep(wait, retryWait.signal).catch(() => undefined);
        this.retryWait = undefined;
        wait = Math.min(wait * 2, RETRY_MAX_MS);
        continue;
      }
      if (this.failed !== undefined) {
        this.logger.info({ runId: this.runId }, 'the event journal takes writes again');
        this.failed = undefined;
        wait = RETRY_FIRST_MS;
      }
      this.told(undefined);
      this.writtenId = batch.at(-1)!.id;
      for (const event of batch) {
        this.confirmed(event);
        for (const listener of this.listeners) {
          try {
            listener(event);
          } catch (error) {
            // One subscriber's fault must not stop the journal for the others.
            this.logger.error({ err: error, runId: this.runId }, 'an event listener failed');
          }
        }
      }
      this.publish(batch, lines);
      this.tellWaiters(true);
      // The subscribers take this commit (their batches go to their sockets) before the next one is
      // serialised: that one waits a turn, and takes in what is emitted meanwhile.
      if (this.pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.flushing = undefined;
  }

  /** Tells the waiters for events now on disk (or, on a failure, every waiter) how it went. */
  private tellWaiters(written: boolean): void {
    if (this.writeWaiters.length === 0) return;
    const told = written ? this.writeWaiters.filter((w) => w.id <= this.writtenId) : this.writeWaiters;
    this.writeWaiters = written ? this.writeWaiters.filter((w) => w.id > this.writtenId) : [];
    for (const waiter of told) waiter.resolve(written);
  }

  private told(error: unknown): void {
    const failure = error === undefined || error instanceof Error ? error : new Error(JSON.stringify(error));
    for (const resolve of this.tried.splice(0)) resolve(failure);
  }

  private confirmed(event: OrcEvent): void {
    if (event.type !== 'task.completed') return;
    const left = (this.unconfirmed.get(event.taskId) ?? 1) - 1;
    if (left > 0) this.unconfirmed.set(event.taskId, left);
    else this.unconfirmed.delete(event.taskId);
  }

  /** A finished run's subscribers are rare: its recent events go, and come from the file if asked for. */
  forgetRecent(): void {
    this.recent.clear();
    this.commitTimes.clear();
  }

  /** Events after `afterId`: replayed from memory or the file, then live, until the signal aborts. */
  events(afterId: number, signal: AbortSignal): AsyncGenerator<OrcEvent> {
    return eventsOf(this.eventBatches(afterId, signal), signal);
  }

  /**
   * Events after `afterId` in batches, until the signal aborts: the batches of the group commits kept in
   * memory (as the text the journal wrote, the same for every subscriber: see EventBatchText), read from
   * the file when the stream is behind what memory keeps (EVENT_BATCH_LIMIT a batch), then each commit as
   * it is published. Events published before the stream opened are a replay: their batches carry no
   * `committedAt` and do not count as delivered. Every later one is a live delivery, with when it was
   * committed, read from the file too when the subscriber fell that far behind. A `resumed` stream (a
   * client back after its connection was cut) was owed every event
   * after `afterId` live: none of them is a replay.
   */
  eventBatches(
    afterId: number,
    signal: AbortSignal,
    { resumed = false }: FollowOptions = {},
  ): AsyncGenerator<EventBatchText> {
    // Taken now: the generator's body runs only once it is first read.
    return this.batchesAfter(afterId, resumed ? afterId : this.writtenId, signal);
  }

  /**
   * Live events read back from the file, a batch per commit with when it was made durable; those whose
   * commit is no longer known (minutes behind) in one batch timed from its first event's emit, which came
   * before (a wait overstated rather than hidden).
   */
  private *lateFromFile(batch: EventBatchText): Generator<EventBatchText> {
    let rest: EventBatchText | undefined = batch;
    while (rest !== undefined) {
      const commit = this.commitTimes.of(rest.firstId);
      if (commit === undefined) {
        yield rest.committed(Date.parse(rest.oldestAt));
        return;
      }
      yield rest.upTo(commit.lastId).committed(commit.at);
      rest = rest.after(commit.lastId);
    }
  }

  private async *batchesAfter(
    afterId: number,
    joinedAt: number,
    signal: AbortSignal,
  ): AsyncGenerator<EventBatchText> {
    let last = afterId;
    let wake: (() => void) | undefined;
    const listener = () => wake?.();
    this.commitListeners.add(listener);
    signal.addEventListener('abort', listener);
    this.following++;
    this.observer.subscribed(1);
    try {
      while (!signal.aborted) {
        const kept = this.recent.after(last, this.writtenId);
        if (kept === undefined) {
          const from = last;
          for await (const replayed of batchesOf(this.store.readEvents(this.runId, last), last)) {
            if (signal.aborted) return;
            const fresh = replayed.after(last);
            if (fresh === undefined) continue;
            last = fresh.lastId;
            if (fresh.firstId <= joinedAt) yield fresh.upTo(joinedAt);
            if (last > joinedAt) yield* this.lateFromFile(fresh.after(joinedAt)!);
            // Caught up with what memory keeps: the shared batches from here.
            if (this.recent.after(last, this.writtenId) !== undefined) break;
          }
          // The file had nothing newer (memory was cleared meanwhile): wait for the next commit.
          if (last > from) continue;
        }
        // One batch, then memory is asked again: a stream that waits for a slow client's socket (rpc's
        // `paced`) holds the batch it sends, not the kept ones that memory lets go meanwhile.
        const fresh = kept?.[0]?.after(last);
        if (fresh !== undefined) {
          last = fresh.lastId;
          // A live batch is timed once its frame is written to the socket (rpc/timed-deliveries.ts).
          yield last <= joinedAt ? fresh.asReplay() : fresh;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.following--;
      this.observer.subscribed(-1);
      signal.removeEventListener('abort', listener);
      this.commitListeners.delete(listener);
    }
  }
}
