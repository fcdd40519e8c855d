import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OrcError, type OrcEvent } from '@orc/shared';
import { DamagedFileError } from './damaged-file-error.js';
import { fsyncDir, isErrno } from './durable-json-file.js';
import { JournalBehindError } from './write-failure.js';

export interface EventLogOptions {
  /** Told the size of every group commit (the store counts bytes per task). */
  onWrite?: (bytes: number) => void;
}

export interface ReadOptions {
  /** Told (once) of a hole or a damaged line among the events up to `afterId`. */
  onEarlierDamage?: (damage: DamagedFileError) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Someone waiting for the log to hold event `id` (a document that reflects it, before it is written). */
interface DurableWaiter extends Waiter {
  id: number;
}

const NEWLINE = 0x0a;

/**
 * One run's append-only journal, `events.jsonl`: one JSON event per line, and a line counts only once
 * its newline is on disk, so a line torn by a crash is ignored (and cut off before the next append).
 * Appends are group-committed: those made while a write+fsync is in flight share the next one.
 */
export class EventLog {
  private file: Promise<FileHandle> | undefined;
  /** The length of the file's complete lines: where a failed append is cut back to. */
  private size = 0;
  private batch: string[] = [];
  /** The id of the last event in `batch`. */
  private batchLastId: number | undefined;
  /** The id of the last event known to be on disk; read from the file's tail the first time it is asked. */
  private durable: number | undefined;
  private waiters: Waiter[] = [];
  private committing: Promise<void> | undefined;
  private closed = false;
  /** Why the last append failed, until one succeeds again. */
  private failure: unknown;
  private durableWaiters: DurableWaiter[] = [];

  constructor(
    readonly filename: string,
    private readonly options: EventLogOptions = {},
  ) {}

  /** Resolves when the events are written and fsynced; `lines`: their JSON, when the caller has it. */
  append(events: readonly OrcEvent[], lines?: readonly string[]): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new OrcError('STORE_ERROR', `cannot append to ${this.filename}: the store is closed`),
      );
    }
    if (events.length === 0) return Promise.resolve();
    let text = '';
    for (let i = 0; i < events.length; i++) text += (lines?.[i] ?? JSON.stringify(events[i])) + '\n';
    const lastId = events.at(-1)!.id;
    return new Promise((resolve, reject) => {
      this.batch.push(text);
      this.batchLastId = lastId;
      this.waiters.push({ resolve, reject });
      this.committing ??= this.commit();
    });
  }

  /**
   * The events with id greater than `afterId`, in file order. Their ids must go on from `afterId` one by
   * one: a hole (a line cut out, a damaged line that hid an event) or an id out of order ends the read
   * with a DamagedFileError, so a journal with a hole is never replayed as if it were whole. A damaged line
   * whose neighbours show it held no event is passed over. Damage among the events up to `afterId`
   * (history the caller has) does not end the read; `onEarlierDamage` is told of it when the read
   * passes it.
   */
  async *read(afterId: number, options: ReadOptions = {}): AsyncGenerator<OrcEvent> {
    // Nothing after `afterId`: the file is not read at all (catching up a finished run of 100,000 tasks
    // would otherwise read 180 MB to find nothing). Damage before it then goes unseen until a replay.
    if (afterId > 0 && (await this.lastId()) <= afterId) return;
    // A restore catches up from the saved document's event: the lines before it are not read either.
    const from = afterId > 0 ? await this.lineBefore(afterId) : 0;
    const stream = createReadStream(this.filename, {
      encoding: 'utf8',
      highWaterMark: 256 * 1024,
      start: from,
    });
    let rest = '';
    let lineNumber = 0;
    /**
     * The id of the last event seen (undefined until the first one of a read that starts past the
     * file's start: the lines before `from` are not read, so its first id tells no hole), and the one
     * the read must yield next.
     */
    let previous: number | undefined = from > 0 ? undefined : 0;
    let expected = afterId + 1;
    /** A damaged line not yet shown (by the id of the next event) to have held no event. */
    let unreadable: number | undefined;
    let earlierDamage = options.onEarlierDamage;
    /** An event up to `afterId` passed over; a hole before it is told once, by its line in the file. */
    const passed = async (id: number) => {
      if (previous !== undefined && id !== previous + 1 && earlierDamage) {
        const skipped = from > 0 ? await this.linesBefore(from) : 0;
        const hidden = unreadable === undefined ? undefined : skipped + unreadable;
        earlierDamage(this.continuityDamage(previous + 1, id, skipped + lineNumber, hidden));
        earlierDamage = undefined;
      }
      previous = id;
      unreadable = undefined;
    };
    try {
      for await (const chunk of stream as AsyncIterable<string>) {
        const text = rest + chunk;
        let start = 0;
        for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
          const line = text.slice(start, end);
          start = end + 1;
          lineNumber++;
          if (line === '') continue;
          const leading = leadingId(line);
          if (leading !== undefined && leading <= afterId) {
            await passed(leading);
            continue;
          }
          const event = parseLine(line);
          if (event === undefined) {
            unreadable ??= lineNumber;
            continue;
          }
          if (event.id <= afterId) {
            await passed(event.id);
            continue;
          }
          if (event.id !== expected) {
            const skipped = from > 0 ? await this.linesBefore(from) : 0;
            throw this.continuityDamage(
              expected,
              event.id,
              skipped + lineNumber,
              unreadable === undefined ? undefined : skipped + unreadable,
            );
          }
          previous = event.id;
          unreadable = undefined;
          expected++;
          yield event;
        }
        rest = text.slice(start);
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    } finally {
      stream.destroy();
    }
    // Whatever is left in `rest` has no newline: torn by a crash, or still being written.
    if (unreadable !== undefined) {
      const line = unreadable + (from > 0 ? await this.linesBefore(from) : 0);
      throw new DamagedFileError(
        this.filename,
        `is damaged from event ${(previous ?? afterId) + 1} on: line ${line} is not valid JSON and no event after it shows what it held`,
      );
    }
  }

  /**
   * Where to start reading for the events after `afterId`: the start of a line whose event is `afterId` or
   * before it, found by bisecting the file on the ids lines start with, near enough (SEEK_SLACK) that
   * what is read before the wanted events is small. Catching up a 100,000-task run killed halfway read
   * 158 MB of journal to apply its last few thousand events (≈0.4 s of a 4 s restore at load 6). Lines
   * whose id cannot be read where a probe lands send the read back to the start, which reads them as before.
   */
  private async lineBefore(afterId: number): Promise<number> {
    const file = await this.openToRead();
    if (file === undefined) return 0;
    try {
      let low = 0;
      let high = (await file.stat()).size;
      while (high - low > SEEK_SLACK) {
        const middle = low + Math.floor((high - low) / 2);
        const line = await lineStartingAfter(file, middle, high);
        if (line === undefined) high = middle;
        else if (line.id === undefined) return 0;
        else if (line.id <= afterId) low = line.start;
        else high = middle;
      }
      return low;
    } finally {
      await file.close();
    }
  }

  /** How many lines the file has before byte `offset` (a line start): for where a damage is told. */
  private async linesBefore(offset: number): Promise<number> {
    const file = await open(this.filename, 'r');
    try {
      const chunk = Buffer.alloc(1024 * 1024);
      let count = 0;
      for (let at = 0; at < offset;) {
        const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, offset - at), at);
        if (bytesRead === 0) break;
        for (let i = chunk.indexOf(NEWLINE); i !== -1 && i < bytesRead; i = chunk.indexOf(NEWLINE, i + 1))
          count++;
        at += bytesRead;
      }
      return count;
    } finally {
      await file.close();
    }
  }

  private continuityDamage(
    expected: number,
    found: number,
    line: number,
    unreadable: number | undefined,
  ): DamagedFileError {
    const why = unreadable !== undefined ? ` (line ${unreadable} is not valid JSON)` : '';
    const reason =
      found > expected
        ? `has a hole: event${found - 1 > expected ? `s ${expected}–${found - 1} are` : ` ${expected} is`} missing before line ${line}${why}`
        : `is out of order: event ${found} at line ${line} comes after event ${expected - 1}`;
    return new DamagedFileError(this.filename, reason, found > expected ? found - 1 : undefined);
  }

  /** The id of the last complete line (0 for an empty or missing log), read from the file's tail. */
  async lastId(): Promise<number> {
    return (await this.lastEvent())?.id ?? 0;
  }

  /** The event of the last complete line (none for an empty or missing log), read from the file's tail. */
  async lastEvent(): Promise<OrcEvent | undefined> {
    const file = await this.openToRead();
    if (file === undefined) return undefined;
    try {
      const { line } = await lastCompleteLine(file, (await file.stat()).size);
      if (line === undefined) return undefined;
      const event = parseLine(line);
      if (event === undefined)
        throw new DamagedFileError(this.filename, 'has a last line that is not valid JSON');
      return event;
    } finally {
      await file.close();
    }
  }

  /**
   * The id of the last event on disk: what a document may claim to reflect. A journal whose last line
   * cannot be read claims nothing.
   */
  async durableId(): Promise<number> {
    if (this.durable === undefined) {
      const last = await this.lastId().catch(() => 0);
      this.durable = Math.max(this.durable ?? 0, last);
    }
    return this.durable;
  }

  /**
   * Resolves once event `id` is on disk. Rejects with a JournalBehindError, at once or later, when the
   * last append failed (the journal's writer retries it on its own time) or the log closes: a document
   * that reflects the event must not be written before the journal holds it.
   */
  async waitDurable(id: number): Promise<void> {
    if (id <= 0) return;
    await this.durableId();
    // Read after the await: an append may have landed meanwhile.
    if ((this.durable ?? 0) >= id) return;
    if (this.closed) throw new JournalBehindError(id, new Error(`${this.filename} is closed`));
    if (this.failure !== undefined && !this.committing) throw new JournalBehindError(id, this.failure);
    return new Promise((resolve, reject) => this.durableWaiters.push({ id, resolve, reject }));
  }

  /**
   * Closes the file of a run that has gone quiet (a finished run), so a daemon with many runs does not
   * hold a descriptor for each; the next append opens it again.
   */
  async release(): Promise<void> {
    await this.committing;
    if (this.batch.length > 0 || this.closed) return;
    const file = this.file;
    this.file = undefined;
    if (file) await (await file).close().catch(() => undefined);
  }

  /** Waits for appends in flight, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.committing;
    this.settleDurableWaiters(new Error(`${this.filename} is closed`));
    const file = this.file;
    this.file = undefined;
    if (file) await (await file).close();
  }

  private async commit(): Promise<void> {
    while (this.batch.length > 0) {
      const bytes = Buffer.from(this.batch.join(''));
      const waiters = this.waiters;
      const lastId = this.batchLastId;
      this.batch = [];
      this.batchLastId = undefined;
      this.waiters = [];
      try {
        const file = await (this.file ??= this.openForAppend().catch((error: unknown) => {
          this.file = undefined; // try again on the next append
          throw error;
        }));
        try {
          await file.appendFile(bytes);
          await file.datasync();
        } catch (error) {
          // Cut a half-written batch off, so the next append starts on a line of its own.
          await file.truncate(this.size).catch(() => undefined);
          throw error;
        }
        this.size += bytes.length;
        if (lastId !== undefined) this.durable = Math.max(this.durable ?? 0, lastId);
        this.failure = undefined;
        this.options.onWrite?.(bytes.length);
        for (const waiter of waiters) waiter.resolve();
        this.settleDurableWaiters();
      } catch (error) {
        this.failure = error;
        for (const waiter of waiters) waiter.reject(error);
        this.settleDurableWaiters(error);
      }
    }
    this.committing = undefined;
  }

  /** Those waiting for events now on disk go on; with `failure`, every other one is told it failed. */
  private settleDurableWaiters(failure?: unknown): void {
    const durable = this.durable ?? 0;
    const waiting: DurableWaiter[] = [];
    for (const waiter of this.durableWaiters) {
      if (waiter.id <= durable) waiter.resolve();
      else if (failure !== undefined) waiter.reject(new JournalBehindError(waiter.id, failure));
      else waiting.push(waiter);
    }
    this.durableWaiters = waiting;
  }

  /** The log opened for reading; undefined when there is none yet. */
  private async openToRead(): Promise<FileHandle | undefined> {
    try {
      return await open(this.filename, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  private async openForAppend(): Promise<FileHandle> {
    const file = await open(this.filename, 'a+', 0o600);
    try {
      const size = (await file.stat()).size;
      const { end } = await lastCompleteLine(file, size);
      if (end < size) await file.truncate(end); // a line torn by a crash
      this.size = end;
      await fsyncDir(dirname(this.filename)); // the file may be new
      return file;
    } catch (error) {
      await file.close();
      throw error;
    }
  }
}

/** A read that seeks stops bisecting within this many bytes of the line it looks for (≈100 events). */
const SEEK_SLACK = 64 * 1024;

/**
 * The first line that starts after byte `at` and before `end`: where it starts, and the id it starts with
 * (undefined when it does not start like an event); undefined when no line starts there.
 */
async function lineStartingAfter(
  file: FileHandle,
  at: number,
  end: number,
): Promise<{ start: number; id: number | undefined } | undefined> {
  const chunk = Buffer.alloc(16 * 1024);
  for (let from = at; from < end; from += chunk.length) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, end - from), from);
    if (bytesRead === 0) return undefined;
    const newline = chunk.subarray(0, bytesRead).indexOf(NEWLINE);
    if (newline === -1) continue;
    const start = from + newline + 1;
    const head = Buffer.alloc(32);
    const read = await file.read(head, 0, head.length, start);
    if (read.bytesRead === 0) return undefined;
    return { start, id: leadingId(head.subarray(0, read.bytesRead).toString('utf8')) };
  }
  return undefined;
}

/** The event on a line, or undefined when the line is not an event. */
function parseLine(line: string): OrcEvent | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as OrcEvent).id === 'number'
      ? (value as OrcEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The id of a line that starts with it (as events built `{ id, runId, … }` serialise), read without
 * parsing the line: a client catching up on a long journal skips the lines it has cheaply.
 */
function leadingId(line: string): number | undefined {
  if (!line.startsWith('{"id":')) return undefined;
  const id = Number.parseInt(line.slice(6, 26), 10);
  return Number.isNaN(id) ? undefined : id;
}

/** Finds the last newline-terminated line by reading backwards from the end, in growing chunks. */
async function lastCompleteLine(file: FileHandle, size: number): Promise<{ end: number; line?: string }> {
  let tail = Buffer.alloc(0);
  let from = size;
  for (let chunk = 16 * 1024; ; chunk *= 2) {
    const start = Math.max(0, from - chunk);
    const part = Buffer.alloc(from - start);
    const { bytesRead } = await file.read(part, 0, part.length, start);
    tail = Buffer.concat([part.subarray(0, bytesRead), tail]);
    from = start;
    const last = tail.lastIndexOf(NEWLINE);
    if (last === -1) {
      if (from === 0) return { end: 0 };
      continue;
    }
    const previous = last > 0 ? tail.lastIndexOf(NEWLINE, last - 1) : -1;
    if (previous !== -1 || from === 0) {
      return { end: from + last + 1, line: tail.subarray(previous + 1, last).toString('utf8') };
    }
  }
}
