import { ZERO_USAGE, type EventBatch, type OrcEvent } from '@orc/shared';
import { eventually } from '@orc/test-support';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock.js';
import type { RunStore } from '../store/store.js';
import { RunJournal } from './run-journal.js';

/** The journal's side of a store, in memory; appends can be held back or made to fail. */
class MemoryJournalStore {
  readonly written: OrcEvent[] = [];
  readonly changed: string[] = [];
  appends = 0;
  /** How many times the file was read (a replay that memory could not serve). */
  reads = 0;
  failNext = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  taskChanged(_runId: string, taskId: string): void {
    this.changed.push(taskId);
  }

  /** The JSON lines the journal handed over with its appends. */
  readonly lines: string[] = [];
  /** Told of each append as it is asked for. */
  onAppend: (events: readonly OrcEvent[]) => void = () => undefined;

  async appendEvents(_runId: string, events: readonly OrcEvent[], lines?: readonly string[]): Promise<void> {
    this.appends += 1;
    this.onAppend(events);
    this.lines.push(...(lines ?? []));
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('ENOSPC: no space left on device');
    }
    this.written.push(...events);
  }

  async *readEvents(_runId: string, afterId: number): AsyncIterable<OrcEvent> {
    this.reads += 1;
    for (const event of [...this.written]) {
      await Promise.resolve();
      if (event.id > afterId) yield event;
    }
  }
}

const clock: Clock = { now: () => 1_700_000_000_000, sleep: () => Promise.resolve() };

/** A clock whose backoff never ends: only `retryNow` tries a failed append again. */
const neverRetries: Clock = {
  now: () => clock.now(),
  sleep: (_ms, signal) =>
    new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))),
};

function journal(store: MemoryJournalStore, lastId = 0): RunJournal {
  return new RunJournal('r1', lastId, store as unknown as RunStore, clock, pino({ level: 'silent' }));
}

const status = (n: number) => ({ type: 'run.concurrency' as const, limit: n, reason: 'test' });
const batchOf = (batch: EventBatch) => ({
  ids: batch.events.map((e) => e.id),
  live: batch.committedAt !== undefined,
});

describe('RunJournal', () => {
  it('numbers events on from the last id and stamps run and time', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store, 41);
    const event = j.emit(status(1));
    expect(event).toMatchObject({ id: 42, runId: 'r1', at: '2023-11-14T22:13:20.000Z' });
    j.emit(status(2));
    expect(j.lastId).toBe(43);
    await j.drain();
    expect(store.written.map((e) => e.id)).toEqual([42, 43]);
  });

  it('publishes an event only once it is durable, and groups what arrives meanwhile into one append', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const seen: number[] = [];
    j.subscribe((e) => seen.push(e.id));
    store.hold();
    j.emit(status(1));
    j.emit(status(2));
    j.emit(status(3));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([]);
    store.release();
    await j.drain();
    expect(seen).toEqual([1, 2, 3]);
    expect(store.appends).toBe(2); // the first event alone, then the two that waited
  });

  it('keeps events through a failed append and writes them, in order, on the retry', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const seen: number[] = [];
    j.subscribe((e) => seen.push(e.id));
    store.failNext = 2;
    j.emit(status(1));
    j.emit(status(2));
    await j.drain();
    expect(store.written.map((e) => e.id)).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
  });

  it('while the disk fails: says why, publishes nothing, does not count a completion done, and goes on when a probe finds it back', async () => {
    const store = new MemoryJournalStore();
    // Never-ending backoff: only retryNow tries again.
    const waiting: Clock = {
      now: () => clock.now(),
      sleep: (_ms, signal) =>
        new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))),
    };
    const j = new RunJournal('r1', 0, store as unknown as RunStore, waiting, pino({ level: 'silent' }));
    const seen: number[] = [];
    j.subscribe((e) => seen.push(e.id));
    store.failNext = 1_000;
    j.emit({ type: 'task.completed', taskId: 't1', attempt: 1, result: 'r', usage: ZERO_USAGE, costUsd: 0 });
    await eventually(() => j.failure !== undefined, 'the failure');
    expect(j.failure).toMatch(/^ENOSPC: no space left on device: cannot write the journal of run r1;/);
    expect([...j.unconfirmedDone()]).toEqual(['t1']);
    j.emit(status(2));
    await expect(j.retryNow()).rejects.toThrow(/ENOSPC/);
    expect(seen).toEqual([]);
    const appendsWhileFailing = store.appends;
    // No retry loop of its own beyond the backoff: nothing more was tried meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(store.appends).toBe(appendsWhileFailing);
    store.failNext = 0;
    await j.retryNow();
    await j.drain();
    expect(j.failure).toBeUndefined();
    expect(seen).toEqual([1, 2]);
    expect([...j.unconfirmedDone()]).toEqual([]);
  });

  it('tells whoever waits for an event when it is on disk, and at once when the disk fails', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store, 5);
    await expect(j.written(5)).resolves.toBe(true);
    store.hold();
    j.emit(status(1));
    j.emit(status(2));
    let told: boolean | undefined;
    void j.written(7).then((written) => (told = written));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(told).toBeUndefined();
    store.release();
    await j.drain();
    expect(told).toBe(true);

    // A write that fails tells the waiter false, and a wait asked for meanwhile gets false at once.
    const stuck = new RunJournal(
      'r1',
      0,
      store as unknown as RunStore,
      neverRetries,
      pino({ level: 'silent' }),
    );
    store.failNext = 1_000;
    stuck.emit(status(1));
    const waiting = stuck.written(1);
    await expect(waiting).resolves.toBe(false);
    await expect(stuck.written(1)).resolves.toBe(false);
    await stuck.close();
  });

  it('a stream aborted while its reader holds the last replayed event ends at the next read', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    j.emit(status(1));
    j.emit(status(2));
    await j.drain();
    j.forgetRecent(); // replayed from the file, as a finished run's events are
    const controller = new AbortController();
    const stream = j.events(0, controller.signal);
    expect((await stream.next()).value).toMatchObject({ id: 1 });
    expect((await stream.next()).value).toMatchObject({ id: 2 });
    controller.abort();
    const next = await Promise.race([
      stream.next(),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1_000)),
    ]);
    expect(next).toEqual({ done: true, value: undefined });
  });

  it('closing drops what a failed disk cannot take once the grace is over, and never publishes it', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const seen: number[] = [];
    j.subscribe((e) => seen.push(e.id));
    store.failNext = 1_000;
    j.emit(status(1));
    await j.close(10);
    expect(seen).toEqual([]);
    expect(store.written).toEqual([]);
  });

  it('replays from the file after an id, then goes on live, with no gap and no duplicate', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    for (let i = 0; i < 5; i++) j.emit(status(i));
    await j.drain();
    const controller = new AbortController();
    const received: number[] = [];
    const reader = (async () => {
      for await (const event of j.events(2, controller.signal)) {
        received.push(event.id);
        // Emitting while the reader is still replaying must not lose or repeat anything.
        if (event.id === 3) for (let i = 0; i < 3; i++) j.emit(status(i));
        if (event.id === 10) controller.abort();
      }
    })();
    await j.drain();
    j.emit(status(9));
    j.emit(status(10));
    await reader;
    expect(received).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('tells the store which task each event changed, as it is emitted (before it is durable)', () => {
    const store = new MemoryJournalStore();
    store.hold();
    const j = journal(store);
    j.emit({ type: 'task.status', taskId: 't1', status: 'ready' });
    j.emit(status(1));
    j.emit({ type: 'task.status', taskId: 't2', status: 'ready' });
    expect(store.changed).toEqual(['t1', 't2']);
    store.release();
  });

  it('hands a caught-up subscriber a group commit whole, however large, without reading the file', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const controller = new AbortController();
    const batches = j.eventBatches(0, controller.signal);
    const first = batches.next();
    // A slow fsync: 25,000 events wait for one append (more than a subscriber may hold back).
    store.hold();
    j.emit(status(0));
    for (let i = 1; i < 25_000; i++) j.emit(status(i));
    store.release();
    const ids: number[] = [];
    let next = await first;
    while (!next.done) {
      for (const event of next.value.events) ids.push(event.id);
      expect(next.value.committedAt).toBeDefined();
      if (ids.length === 25_000) break;
      next = await batches.next();
    }
    controller.abort();
    expect(ids).toEqual(Array.from({ length: 25_000 }, (_, i) => i + 1));
    expect(store.reads).toBe(0);
  });

  it('a subscriber behind what memory keeps reads the file, then the shared batches, with no gap', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    for (let i = 0; i < 3_000; i++) j.emit(status(i));
    await j.drain();
    j.forgetRecent(); // not in memory any more: from the file
    for (let i = 0; i < 10; i++) j.emit(status(i));
    await j.drain();
    const controller = new AbortController();
    const ids: number[] = [];
    const replayed: boolean[] = [];
    const batches = j.eventBatches(0, controller.signal);
    for (let next = await batches.next(); !next.done; next = await batches.next()) {
      for (const event of next.value.events) ids.push(event.id);
      replayed.push(next.value.committedAt === undefined);
      if (ids.length === 3_010) break;
    }
    controller.abort();
    expect(ids).toEqual(Array.from({ length: 3_010 }, (_, i) => i + 1));
    expect(store.reads).toBe(1);
    // Published before the stream opened: a replay, whether from the file or from memory.
    expect(replayed.every(Boolean)).toBe(true);
  });

  it('a live subscriber fallen behind what memory keeps gets the file as deliveries, a batch per commit and its time', async () => {
    const store = new MemoryJournalStore();
    let now = clock.now();
    const ticking: Clock = { now: () => now, sleep: () => Promise.resolve() };
    const j = new RunJournal('r1', 0, store as unknown as RunStore, ticking, pino({ level: 'silent' }));
    const controller = new AbortController();
    // It joins before the first commit, and reads only once memory has let the first ones go.
    const stream = j.eventBatches(0, controller.signal);
    const committedAt = new Map<number, number>();
    for (let commit = 0; commit < 4; commit++) {
      now += 1_000;
      for (let i = 0; i < 6_000; i++) j.emit(status(i));
      await j.drain();
      for (let id = commit * 6_000 + 1; id <= (commit + 1) * 6_000; id++) committedAt.set(id, now);
    }
    const ids: number[] = [];
    for (let next = await stream.next(); !next.done; next = await stream.next()) {
      const batch = next.value;
      // Every event is a live delivery, timed from its own commit: a batch never spans two.
      expect(batch.events.map((e) => committedAt.get(e.id))).toEqual(
        batch.events.map(() => batch.committedAt),
      );
      ids.push(...batch.events.map((e) => e.id));
      if (ids.length === 24_000) break;
    }
    controller.abort();
    expect(ids).toEqual(Array.from({ length: 24_000 }, (_, i) => i + 1));
    expect(store.reads).toBe(1);
  });

  it('keeps more events in memory while a stream follows: one a second behind catches up without the file', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const controller = new AbortController();
    const stream = j.eventBatches(0, controller.signal);
    const first = stream.next();
    // 24,000 events published while the stream reads nothing: more than is kept for a run nobody follows.
    for (let commit = 0; commit < 4; commit++) {
      for (let i = 0; i < 6_000; i++) j.emit(status(i));
      await j.drain();
    }
    const ids: number[] = [];
    for (let next = await first; !next.done; next = await stream.next()) {
      ids.push(...next.value.events.map((e) => e.id));
      if (ids.length === 24_000) break;
    }
    controller.abort();
    expect(ids).toEqual(Array.from({ length: 24_000 }, (_, i) => i + 1));
    expect(store.reads).toBe(0);
  });

  it('a stream behind memory replays from the file what was published before it, and delivers the rest', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    for (let i = 0; i < 3_000; i++) j.emit(status(i));
    await j.drain();
    const controller = new AbortController();
    const stream = j.eventBatches(2_500, controller.signal);
    for (let i = 0; i < 10; i++) j.emit(status(i));
    await j.drain();
    // Read only now, from the file: one batch of it holds events from before the stream and after.
    j.forgetRecent();
    const got: { ids: number[]; live: boolean }[] = [];
    while (got.flatMap((b) => b.ids).length < 510)
      got.push(batchOf((await stream.next()).value as EventBatch));
    controller.abort();
    expect(got.flatMap((b) => b.ids)).toEqual(Array.from({ length: 510 }, (_, i) => 2_501 + i));
    expect(got.filter((b) => !b.live).flatMap((b) => b.ids)).toEqual(
      Array.from({ length: 500 }, (_, i) => 2_501 + i),
    );
  });

  it('a resumed stream is owed every event after its id live, those memory keeps and those the file has', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    for (let i = 0; i < 20; i++) j.emit(status(i));
    await j.drain();
    const live = async (afterId: number, resumed: boolean) => {
      const controller = new AbortController();
      const next = await j.eventBatches(afterId, controller.signal, { resumed }).next();
      controller.abort();
      return batchOf(next.value as EventBatch);
    };
    expect(await live(5, true)).toEqual({ ids: Array.from({ length: 15 }, (_, i) => 6 + i), live: true });
    expect(await live(5, false)).toEqual({ ids: Array.from({ length: 15 }, (_, i) => 6 + i), live: false });
    j.forgetRecent(); // from the file now: its commit times went with it, so the events' own times stand in
    const fromFile = await live(5, true);
    expect(fromFile.live).toBe(true);
    expect(store.reads).toBe(1);
  });

  it('hands a commit to its subscribers before it serialises the next, as the very lines it wrote', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const controller = new AbortController();
    const order: string[] = [];
    store.onAppend = (events) => order.push(`append ${events[0]!.id}-${events.at(-1)!.id}`);
    const texts: string[] = [];
    const reading = (async () => {
      for await (const batch of j.eventBatches(0, controller.signal)) {
        order.push(`sent ${batch.firstId}-${batch.lastId}`);
        texts.push(batch.json);
        if (batch.lastId === 4) break;
      }
    })();
    store.hold();
    j.emit(status(1));
    // These wait for the next commit while the first is on its way to the disk.
    for (let i = 2; i <= 4; i++) j.emit(status(i));
    store.release();
    await reading;
    controller.abort();
    expect(order).toEqual(['append 1-1', 'sent 1-1', 'append 2-4', 'sent 2-4']);
    expect(store.lines).toEqual(store.written.map((e) => JSON.stringify(e)));
    expect(texts).toEqual([
      `{"events":[${store.lines[0]}],"committedAt":${clock.now()}}`,
      `{"events":[${store.lines.slice(1).join(',')}],"committedAt":${clock.now()}}`,
    ]);
  });

  it('subscribers behind the run catch up with the very batches the others got (serialised once)', async () => {
    const store = new MemoryJournalStore();
    const j = journal(store);
    const controller = new AbortController();
    const fast = j.eventBatches(0, controller.signal);
    const slow = j.eventBatches(0, controller.signal);
    const fastFirst = fast.next();
    for (let commit = 0; commit < 3; commit++) {
      for (let i = 0; i < 5; i++) j.emit(status(i));
      await j.drain();
    }
    const got = { fast: [] as EventBatch[], slow: [] as EventBatch[] };
    got.fast.push((await fastFirst).value as EventBatch);
    while (got.fast.length < 3) got.fast.push((await fast.next()).value as EventBatch);
    // The slow one asks only now, three commits late.
    while (got.slow.length < 3) got.slow.push((await slow.next()).value as EventBatch);
    controller.abort();
    expect(got.slow).toEqual(got.fast);
    got.slow.forEach((batch, i) => expect(batch).toBe(got.fast[i]));
    expect(got.fast.every((b) => b.committedAt !== undefined)).toBe(true);
    expect(store.reads).toBe(0);
  });
});
