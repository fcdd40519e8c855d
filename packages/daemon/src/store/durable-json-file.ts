import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OrcError } from '@orc/shared';
import type { Adapter } from 'lowdb';

export interface DurableJsonFileOptions {
  /** Indentation for people who read the file; documents that grow large are written compact. */
  space?: number;
  /** Told the size of every completed write (the store counts bytes per task). */
  onWrite?: (bytes: number) => void;
  /** Make the file's directory (0700) on a write that finds it missing (a run's first checkpoint). */
  makeDir?: boolean;
}

/**
 * A lowdb adapter that survives a crash at any instant: each write goes to a temp file of its own in the
 * same directory, is fsynced, renamed over the target and the directory is fsynced, so the file on disk is
 * always the old version or the new one, never a torn one. lowdb's JSONFile uses a fixed temp name and
 * never fsyncs, hence this. A kind of file with its own text (a run document, written from text cached
 * per task) overrides `serialize` and `parse`.
 */
export class DurableJsonFile<T> implements Adapter<T> {
  constructor(
    readonly filename: string,
    private readonly options: DurableJsonFileOptions = {},
  ) {}

  /** The data, or null when there is no file. */
  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.filename, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
    return this.parse(text);
  }

  async write(data: T): Promise<void> {
    // Serialised before the first await, so later changes to `data` cannot leak into this write (pieces
    // made as they are written are made from what cannot change: see RunDocumentText).
    const text = this.serialize(data);
    if (this.options.makeDir === true) {
      const dir = dirname(this.filename);
      if (await mkdir(dir, { recursive: true, mode: 0o700 })) await fsyncDir(dirname(dir));
    }
    const bytes = await writeFileDurably(this.filename, text);
    this.options.onWrite?.(bytes);
  }

  protected parse(text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new OrcError(
        'STORE_ERROR',
        `${this.filename} is not valid JSON (${(error as Error).message}); move it aside or restore it from a checkpoint`,
      );
    }
  }

  /** The file's text, whole or as pieces written one after another. */
  protected serialize(data: T): string | Iterable<string> | AsyncIterable<string> {
    return JSON.stringify(data, null, this.options.space) + '\n';
  }
}

/** Pieces of text are encoded into a buffer of this size and written a buffer at a time. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Replaces `filename` with `bytes` atomically and durably (temp file, fsync, rename, fsync the directory).
 * Pieces of text are taken and written one after another, a megabyte per turn of the event loop, without
 * joining them into one string first (a document of 10 MB would otherwise be copied twice). Resolves with
 * the number of bytes written.
 */
export async function writeFileDurably(
  filename: string,
  bytes: Uint8Array | string | Iterable<string> | AsyncIterable<string>,
): Promise<number> {
  let written: number;
  const dir = dirname(filename);
  const temp = join(dir, `.${basename(filename)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx', 0o600);
    try {
      if (typeof bytes === 'string' || bytes instanceof Uint8Array) {
        await file.writeFile(bytes);
        written = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
      } else {
        written = await writePieces(file, bytes);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, filename);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dir);
  return written;
}

/**
 * Writes text pieces in order through one reused buffer; returns the bytes written. Pieces that come
 * asynchronously are made as they are taken, the maker giving the event loop its turns.
 */
async function writePieces(
  file: FileHandle,
  pieces: Iterable<string> | AsyncIterable<string>,
): Promise<number> {
  const buffer = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
  let used = 0;
  let total = 0;
  const drain = async () => {
    for (let at = 0; at < used;) at += (await file.write(buffer, at, used - at)).bytesWritten;
    total += used;
    used = 0;
  };
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const fits = (piece: string) => used + piece.length * 3 <= buffer.length;
  const addLarge = async (piece: string) => {
    await drain();
    if (fits(piece)) used += buffer.write(piece, used);
    else {
      await file.writeFile(piece);
      total += Buffer.byteLength(piece);
    }
  };
  // A piece that fits is copied without an await: a document is 200,000 pieces.
  if (Symbol.asyncIterator in pieces) {
    for await (const piece of pieces) {
      if (fits(piece)) used += buffer.write(piece, used);
      else await addLarge(piece);
    }
  } else {
    for (const piece of pieces) {
      if (fits(piece)) used += buffer.write(piece, used);
      else await addLarge(piece);
    }
  }
  await drain();
  return total;
}

/** Makes a directory's entries (a rename, a new file) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
