import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALIVE_MS, keepAliveMark, readAliveMark } from './alive-mark.js';

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the daemon mark of life', () => {
  it('says the daemon is alive until past the next mark, and until its stop once stopped', () => {
    dir = mkdtempSync(join(tmpdir(), 'orc-alive-'));
    const file = join(dir, 'daemon.alive');
    expect(readAliveMark(file)).toBeUndefined();
    let now = 1_800_000_000_000;
    const mark = keepAliveMark(file, () => now);
    // A daemon killed before its next mark was alive until then: the mark looks past it.
    expect(readAliveMark(file)).toBeGreaterThan(now + ALIVE_MS);
    now += 5_000;
    mark.stop();
    expect(readAliveMark(file)).toBe(now);
  });
});
