import { mkdir, rm, stat, utimes } from 'node:fs/promises';
import { OrcError } from '@orc/shared';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/**
 * Task Master's lock on a file: `<file>.lock` next to it, created atomically. Its current code
 * (proper-lockfile) makes a directory and touches it every 5 s while it holds it; its older sync code
 * makes the same path as a file with O_EXCL. Either is taken as held, and either is stale once its mtime is
 * more than 10 s old, whereupon anyone may remove it. We create a directory, as the current code does:
 * the older code's O_EXCL create fails on it as well.
 */

export interface FileLockOptions {
  clock?: Clock;
  /** A lock not touched for this long is abandoned (Task Master: 10 s). */
  staleMs?: number;
  /** Pause between attempts while someone else holds the lock. */
  retryDelayMs?: number;
  /** Give up waiting after this long. */
  timeoutMs?: number;
}

export const TASKMASTER_STALE_MS = 10_000;

export function lockPathFor(file: string): string {
  return `${file}.lock`;
}

/** Runs `critical` while holding `<file>.lock`; the lock is released however `critical` ends. */
export async function withFileLock<T>(
  file: string,
  critical: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lock = await acquireFileLock(file, options);
  try {
    return await critical();
  } finally {
    await lock.release();
  }
}

export interface HeldFileLock {
  readonly path: string;
  release(): Promise<void>;
}

export async function acquireFileLock(file: string, options: FileLockOptions = {}): Promise<HeldFileLock> {
  const clock = options.clock ?? systemClock;
  const staleMs = options.staleMs ?? TASKMASTER_STALE_MS;
  const retryDelayMs = options.retryDelayMs ?? 25;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const lockPath = lockPathFor(file);
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lockPath);
      const { ino, birthtimeMs } = await stat(lockPath);
      return holdLock(lockPath, `${ino}:${birthtimeMs}`, staleMs);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') {
        throw new OrcError('STORE_ERROR', `cannot create lock ${lockPath}: ${(error as Error).message}`);
      }
    }
    const held = await stat(lockPath).catch((error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return undefined; // released between our mkdir and stat: try again now
      throw error;
    });
    if (!held) continue;
    const age = clock.now() - held.mtimeMs;
    if (age > staleMs) {
      // Abandoned by a process that died holding it; Task Master removes such a lock the same way.
      await rm(lockPath, { recursive: true, force: true });
      continue;
    }
    if (clock.now() >= deadline) {
      throw new OrcError(
        'STORE_ERROR',
        `${file} stayed locked by another process for ${timeoutMs} ms (${lockPath}); try again, or remove the lock if no Task Master is running`,
      );
    }
    await clock.sleep(retryDelayMs);
  }
}

function holdLock(lockPath: string, identity: string, staleMs: number): HeldFileLock {
  // Keep the lock fresh while held, as proper-lockfile does, so a long hold is never taken for abandoned.
  // Real time on purpose: Task Master, another process, judges the lock's age by its mtime against its
  // own clock, so the heartbeat must beat in the file system's time, not the engine's Clock.
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, staleMs / 2);
  refresh.unref();
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      clearInterval(refresh);
      // Remove only our own lock: if we were taken for stale and another process holds it now, it stays.
      const current = await stat(lockPath).catch(() => undefined);
      if (current && `${current.ino}:${current.birthtimeMs}` === identity)
        await rm(lockPath, { recursive: true, force: true });
    },
  };
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
