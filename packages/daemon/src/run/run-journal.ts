import { performance } from 'node:perf_hooks';
import type { NewEvent, OrcEvent } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import type { RunStore } from '../store/store.js';

/** A subscriber further behind than this stops buffering and catches up from the file instead. */
const LIVE_BUFFER_LIMIT = 10_000;
/** The latest published events kept in memory: a client that reconnects after a blip needs no file read. */
const RECENT_LIMIT = 4_096;

/** Told of the journal's work (the daemon's metrics). */
export interface JournalObserver {
  /** A group commit of `events` took `ms` (append and fsync). */
  written(events: readonly OrcEvent[], ms: number): void;
  /** A live event was handed to a subscriber (replayed ones are catching up, not delivered late). */
  delivered(event: OrcEvent): void;
  /** A subscriber came (1) or went (-1). */
  subscribed(delta: 1 | -1): void;
}

const UNOBSERVED: JournalObserver = { written() {}, delivered() {}, subscribed() {} };

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
  /** Published (durable) events, oldest first, at most RECENT_LIMIT; consecutive ids. */
  private recent: OrcEvent[] = [];

  constructor(
    private readonly runId: string,
    lastId: number,
    private readonly store: RunStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly observer: JournalObserver = UNOBSERVED,
  ) {
    this.nextId = lastId + 1;
  }

  /** The id of the last event handed out (durable or about to be). */
  get lastId(): number {
    return this.nextId - 1;
  }

  /** Journals the event; `at` is its time when the change it tells was stamped before (default: now). */
  emit(event: NewEvent, at?: string): OrcEvent {
    // The id goes first in the line: catching up from the file skips older lines without parsing them.
    const full = { id: this.nextId++, runId: this.runId, at: at ?? isoAt(this.clock), ...event };
    // The run changes a task record and tells of it in the same turn: its saved text is stale.
    if ('taskId' in full) this.store.taskChanged(this.runId, full.taskId);
    this.pending.push(full);
    this.flushing ??= this.flush();
    return full;
  }

  private closed = false;

  /** After this, events that cannot be written are dropped instead of retried (the store is closing). */
  close(): void {
    this.closed = true;
  }

  /** Resolves when every event emitted so far is durable and published. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  subscribe(listener: (event: OrcEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const started = performance.now();
      try {
        await this.store.appendEvents(this.runId, batch);
        this.observer.written(batch, performance.now() - started);
      } catch (error) {
        if (this.closed) {
          // The store is gone (the daemon is stopping): these events were never published, so no id is seen twice.
          this.logger.error(
            { err: error, runId: this.runId, dropped: batch.length },
            'journal closed; events dropped',
          );
          this.pending = [];
          break;
        }
        // Disk full or similar: keep the events and try again rather than publish what is not durable.
        this.logger.error({ err: error, runId: this.runId }, 'cannot append to the event journal; retrying');
        this.pending = [...batch, ...this.pending];
        await this.clock.sleep(500);
        continue;
      }
      this.remember(batch);
      for (const event of batch) {
        for (const listener of this.listeners) {
          try {
            listener(event);
          } catch (error) {
            // One subscriber's fault must not stop the journal for the others.
            this.logger.error({ err: error, runId: this.runId }, 'an event listener failed');
          }
        }
      }
    }
    this.flushing = undefined;
  }

  /** A finished run's subscribers are rare: its recent events go, and come from the file if asked for. */
  forgetRecent(): void {
    this.recent = [];
  }

  private remember(batch: readonly OrcEvent[]): void {
    this.recent.push(...batch);
    if (this.recent.length > RECENT_LIMIT * 2) this.recent = this.recent.slice(-RECENT_LIMIT);
  }

  /**
   * The published events after `afterId` when memory holds all of them; undefined when the file must be
   * read (older ones, or none published since this process started).
   */
  private recentAfter(afterId: number): OrcEvent[] | undefined {
    const first = this.recent[0];
    if (first === undefined || first.id > afterId + 1) return undefined;
    const start = this.recent.findIndex((e) => e.id > afterId);
    return start === -1 ? [] : this.recent.slice(start);
  }

  /** Events after `afterId`: replayed from memory or the file, then live, until the signal aborts. */
  async *events(afterId: number, signal: AbortSignal): AsyncGenerator<OrcEvent> {
    let last = afterId;
    let live: OrcEvent[] = [];
    let replay = true;
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe((event) => {
      if (event.id <= last) return;
      if (live.length >= LIVE_BUFFER_LIMIT) {
        live = [];
        replay = true;
      } else {
        live.push(event);
      }
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    this.observer.subscribed(1);
    try {
      while (!signal.aborted) {
        if (replay) {
          replay = false;
          const recent = this.recentAfter(last);
          const source = recent ?? this.store.readEvents(this.runId, last);
          for await (const event of source) {
            if (signal.aborted) return;
            if (event.id <= last) continue;
            last = event.id;
            yield event;
          }
        }
        while (live.length > 0 && !replay) {
          const batch = live;
          live = [];
          for (const event of batch) {
            if (event.id <= last) continue;
            last = event.id;
            this.observer.delivered(event);
            yield event;
            if (signal.aborted) return;
          }
        }
        if (replay || live.length > 0) continue;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.observer.subscribed(-1);
      signal.removeEventListener('abort', onAbort);
      unsubscribe();
    }
  }
}
