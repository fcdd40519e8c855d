import { systemClock, WAIT_CALLED_OFF, type Clock } from '../clock.js';

export interface CoalescingWriterOptions {
  /** The shortest gap between the end of one write of a key and the start of the next (ms). */
  minIntervalMs?: number;
  /** The gap is at least this many times as long as the previous write took. */
  durationFactor?: number;
  clock?: Clock;
  /** Told of a write that failed; the next `flush` of that key rejects with it too. */
  onError?: (error: unknown, key: string) => void;
}

type Write = () => Promise<void>;

interface Slot {
  key: string;
  /** The latest write asked for and not yet started. */
  pending: Write | undefined;
  /** Whether it waits for the gap after the previous write. */
  spaced: boolean;
  running: Promise<void> | undefined;
  /** Aborts the wait before the next write. */
  delay: AbortController | undefined;
  /** Requests are numbered; `done` is the number of the latest request a finished write covered. */
  requested: number;
  done: number;
  lastEnd: number;
  lastDuration: number;
  error: Error | undefined;
}

/**
 * Writes of a key (one file) are coalesced: one in flight, and every request made meanwhile collapses
 * into one next write, which reads the latest state when it starts. Writes of a key are also spaced by
 * max(minIntervalMs, durationFactor × the previous write's duration), so a document of several MB is not
 * rewritten back to back and the bytes written grow with the run's length, not with its square.
 */
export class CoalescingWriter {
  private readonly slots = new Map<string, Slot>();
  private readonly minIntervalMs: number;
  private readonly durationFactor: number;
  private readonly clock: Clock;

  constructor(private readonly options: CoalescingWriterOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.durationFactor = options.durationFactor ?? 10;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Asks for `write` to run; it replaces any request of the same key that has not started yet. Unspaced,
   * it starts as soon as the write in flight ends: the caller spaces the writes itself.
   */
  schedule(key: string, write: Write, spacing: 'spaced' | 'unspaced' = 'spaced'): void {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = newSlot(key);
      this.slots.set(key, slot);
    }
    slot.pending = write;
    slot.spaced = spacing === 'spaced';
    slot.requested++;
    if (!slot.running && !slot.delay) this.arrange(slot);
  }

  /**
   * Resolves when every write requested so far (of `key`, or of every key) has finished, starting
   * waiting ones at once; rejects with the error of a failed one. Requests made meanwhile are not waited for.
   */
  async flush(key?: string): Promise<void> {
    const slot = key === undefined ? undefined : this.slots.get(key);
    const slots = key === undefined ? [...this.slots.values()] : slot ? [slot] : [];
    await Promise.all(slots.map((each) => this.flushSlot(each)));
  }

  private async flushSlot(slot: Slot): Promise<void> {
    const target = slot.requested;
    while (slot.done < target) await (slot.running ?? this.start(slot));
    const error = slot.error;
    slot.error = undefined;
    if (error !== undefined) throw error;
  }

  /** Starts the pending write now, or after the gap since the previous one. */
  private arrange(slot: Slot): void {
    if (!slot.pending) return;
    const gap = slot.spaced ? Math.max(this.minIntervalMs, this.durationFactor * slot.lastDuration) : 0;
    const wait = slot.lastEnd + gap - this.clock.now();
    if (wait <= 0) {
      void this.start(slot);
      return;
    }
    const delay = new AbortController();
    slot.delay = delay;
    this.clock.sleep(wait, delay.signal).then(
      () => {
        if (slot.delay === delay) void this.start(slot);
      },
      () => undefined, // aborted: a flush started the write
    );
  }

  private start(slot: Slot): Promise<void> {
    slot.delay?.abort(WAIT_CALLED_OFF);
    slot.delay = undefined;
    const write = slot.pending;
    const covers = slot.requested;
    slot.pending = undefined;
    const startedAt = this.clock.now();
    const running = (async () => {
      try {
        await write?.();
        slot.error = undefined;
      } catch (error) {
        slot.error = error instanceof Error ? error : new Error(String(error));
        this.options.onError?.(error, slot.key);
      }
      slot.lastEnd = this.clock.now();
      slot.lastDuration = slot.lastEnd - startedAt;
      slot.done = covers;
      slot.running = undefined;
      this.arrange(slot);
    })();
    slot.running = running;
    return running;
  }
}

function newSlot(key: string): Slot {
  return {
    key,
    pending: undefined,
    spaced: true,
    running: undefined,
    delay: undefined,
    requested: 0,
    done: 0,
    lastEnd: -Infinity,
    lastDuration: 0,
    error: undefined,
  };
}
