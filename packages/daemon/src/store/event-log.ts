import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OrcError, type OrcEvent } from '@orc/shared';
import { fsyncDir, isErrno } from './durable-json-file.js';

export interface EventLogOptions {
  /** Told the size of every group commit (the store counts bytes per task). */
  onWrite?: (bytes: number) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
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
  private waiters: Waiter[] = [];
  private committing: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly filename: string,
    private readonly options: EventLogOptions = {},
  ) {}

  /** Resolves when the events are written and fsynced. */
  append(events: readonly OrcEvent[]): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new OrcError('STORE_ERROR', `cannot append to ${this.filename}: the store is closed`),
      );
    }
    if (events.length === 0) return Promise.resolve();
    let text = '';
    for (const event of events) text += JSON.stringify(event) + '\n';
    return new Promise((resolve, reject) => {
      this.batch.push(text);
      this.waiters.push({ resolve, reject });
      this.committing ??= this.commit();
    });
  }

  /** The events with id greater than `afterId`, in file order. */
  async *read(afterId: number): AsyncGenerator<OrcEvent> {
    const stream = createReadStream(this.filename, { encoding: 'utf8', highWaterMark: 256 * 1024 });
    let rest = '';
    let lineNumber = 0;
    try {
      for await (const chunk of stream as AsyncIterable<string>) {
        const text = rest + chunk;
        let start = 0;
        for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
          const line = text.slice(start, end);
          start = end + 1;
          lineNumber++;
          if (line === '' || (leadingId(line) ?? Infinity) <= afterId) continue;
          const event = this.parse(line, lineNumber);
          if (event.id > afterId) yield event;
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
  }

  /** The id of the last complete line (0 for an empty or missing log), read from the file's tail. */
  async lastId(): Promise<number> {
    let file: FileHandle;
    try {
      file = await open(this.filename, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return 0;
      throw error;
    }
    try {
      const { line } = await lastCompleteLine(file, (await file.stat()).size);
      return line === undefined ? 0 : this.parse(line, 'last').id;
    } finally {
      await file.close();
    }
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
    const file = this.file;
    this.file = undefined;
    if (file) await (await file).close();
  }

  private async commit(): Promise<void> {
    while (this.batch.length > 0) {
      const bytes = Buffer.from(this.batch.join(''));
      const waiters = this.waiters;
      this.batch = [];
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
        this.options.onWrite?.(bytes.length);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.committing = undefined;
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

  private parse(line: string, lineNumber: number | 'last'): OrcEvent {
    try {
      return JSON.parse(line) as OrcEvent;
    } catch {
      throw new OrcError(
        'STORE_ERROR',
        `${this.filename}: line ${lineNumber} is not valid JSON; the journal is damaged (move the file aside to start the run's journal afresh)`,
      );
    }
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
