import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDaemonLogger } from './logger.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);

describe('the daemon log', () => {
  it('rotates past its size into daemon.log.1, both private, and goes on logging', async () => {
    dir = await mkdtemp(join(tmpdir(), 'orc-log-'));
    const file = join(dir, 'daemon.log');
    const { logger, flush } = createDaemonLogger({ file, maxBytes: 4_000, rotateCheckMs: 10 });
    for (let i = 0; i < 60; i++)
      logger.info({ i }, 'a line long enough to fill the log in a few dozen writes');
    flush();
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      try {
        statSync(`${file}.1`);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    // The new file opens asynchronously: a line or two may still go to the old one meanwhile.
    const inNewFile = () => readFileSync(file, 'utf8').includes('written after the rotation');
    for (let n = 0; n < 100 && !inNewFile(); n++) {
      logger.info({ i: 'after' }, 'written after the rotation');
      flush();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const rotated = lines(`${file}.1`).map((line) => (JSON.parse(line) as { i: unknown }).i);
    expect(rotated).toContain(59);
    expect(rotated.filter((i) => i !== 'after').at(-1)).toBe(59);
    const fresh = lines(file).map((line) => (JSON.parse(line) as { i: unknown }).i);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((i) => i === 'after')).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.1`).mode & 0o777).toBe(0o600);
  });
});
