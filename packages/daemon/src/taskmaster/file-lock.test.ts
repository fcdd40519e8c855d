import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock, eventually } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockPathFor, withFileLock } from './file-lock.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'orc-file-lock-'));
  file = path.join(dir, 'tasks.json');
  await writeFile(file, '0');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The two ways Task Master takes the lock: a directory (proper-lockfile) or an O_EXCL file (its sync code). */
const taskMasterLocks = {
  directory: (lock: string) => mkdir(lock),
  'O_EXCL file': (lock: string) =>
    writeFile(lock, JSON.stringify({ pid: 1, timestamp: Date.now() }), { flag: 'wx' }),
};

describe('withFileLock', () => {
  it('lets one critical section run at a time', async () => {
    const increment = () =>
      withFileLock(file, async () => {
        const n = Number(await readFile(file, 'utf8'));
        await sleep(5);
        await writeFile(file, String(n + 1));
      });
    await Promise.all(Array.from({ length: 6 }, increment));
    expect(await readFile(file, 'utf8')).toBe('6');
    expect(existsSync(lockPathFor(file))).toBe(false);
  });

  it('releases the lock when the critical section throws', async () => {
    await expect(withFileLock(file, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lockPathFor(file))).toBe(false);
  });

  it.each(Object.entries(taskMasterLocks))('waits while Task Master holds a %s lock', async (_kind, take) => {
    const lock = lockPathFor(file);
    await take(lock);
    let entered = false;
    // Its waits are on a clock the test moves: five of them, and the lock is still held.
    const clock = new ManualClock();
    const done = withFileLock(
      file,
      () => {
        entered = true;
        return Promise.resolve();
      },
      { retryDelayMs: 10, clock },
    );
    for (let wait = 1; wait <= 5; wait++) {
      await eventually(() => clock.sleeps.length === wait, `wait ${wait}`);
      clock.advance(10);
    }
    await eventually(() => clock.sleeps.length === 6, 'the sixth wait');
    expect(entered).toBe(false);
    await rm(lock, { recursive: true });
    clock.advance(10);
    await done;
    expect(entered).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });

  it.each(Object.entries(taskMasterLocks))(
    'takes over a stale %s lock (untouched for over 10 s)',
    async (_kind, take) => {
      const lock = lockPathFor(file);
      await take(lock);
      const old = new Date(Date.now() - 11_000);
      await utimes(lock, old, old);
      const started = Date.now();
      await withFileLock(file, () => Promise.resolve(expect(existsSync(lock)).toBe(true)));
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(existsSync(lock)).toBe(false);
    },
  );

  it('gives up on a lock that stays fresh, naming it', async () => {
    await mkdir(lockPathFor(file));
    const clock = new ManualClock();
    const attempt = withFileLock(file, () => Promise.resolve(), { timeoutMs: 100, retryDelayMs: 10, clock });
    await eventually(() => clock.sleeps.length === 1, 'the first wait');
    clock.advance(100);
    await expect(attempt).rejects.toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringContaining(`${file}.lock`) as unknown,
    });
    expect(existsSync(lockPathFor(file))).toBe(true);
  });

  // Real time on purpose: the heartbeat beats in the file system's time (see holdLock).
  it('keeps a long-held lock fresh so nobody takes it for stale', async () => {
    const order: string[] = [];
    const options = { staleMs: 200, retryDelayMs: 10 };
    const first = withFileLock(
      file,
      async () => {
        order.push('first in');
        await sleep(600);
        order.push('first out');
      },
      options,
    );
    await sleep(20);
    const second = withFileLock(file, () => Promise.resolve(order.push('second in')), options);
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
  });

  it('leaves alone a lock that another process took over from it', async () => {
    const lock = lockPathFor(file);
    await withFileLock(file, async () => {
      // As if we had stalled past 10 s and another process had removed our lock and taken its own.
      await rm(lock, { recursive: true });
      await writeFile(lock, 'theirs', { flag: 'wx' });
    });
    expect(await readFile(lock, 'utf8')).toBe('theirs');
  });
});
