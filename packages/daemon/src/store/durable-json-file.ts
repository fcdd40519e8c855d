import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OrcError } from '@orc/shared';
import type { Adapter } from 'lowdb';

export interface DurableJsonFileOptions {
  /** Indentation for people who read the file; documents that grow large are written compact. */
  space?: number;
  /** Told the size of every completed write (the store counts bytes per task). */
  onWrite?: (bytes: number) => void;
}

/**
 * A lowdb adapter that survives a crash at any instant: each write goes to a temp file of its own in the
 * same directory, is fsynced, renamed over the target and the directory is fsynced, so the file on disk is
 * always the old version or the new one, never a torn one. lowdb's JSONFile uses a fixed temp name and
 * never fsyncs, hence this.
 */
export class DurableJsonFile<T> implements Adapter<T> {
  constructor(
    readonly filename: string,
    private readonly options: DurableJsonFileOptions = {},
  ) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.filename, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new OrcError(
        'STORE_ERROR',
        `${this.filename} is not valid JSON (${(error as Error).message}); move it aside or restore it from a checkpoint`,
      );
    }
  }

  async write(data: T): Promise<void> {
    // Serialise before the first await, so later changes to `data` cannot leak into this write.
    const text = JSON.stringify(data, null, this.options.space) + '\n';
    await writeFileDurably(this.filename, text);
    this.options.onWrite?.(Buffer.byteLength(text));
  }
}

/** Replaces `filename` with `bytes` atomically and durably (temp file, fsync, rename, fsync the directory). */
export async function writeFileDurably(filename: string, bytes: Uint8Array | string): Promise<void> {
  const dir = dirname(filename);
  const temp = join(dir, `.${basename(filename)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(bytes);
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
