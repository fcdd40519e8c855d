import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TakeBacks } from './take-backs.js';

describe('TakeBacks', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orc-take-backs-'));
    file = join(dir, 'redis', 'take-backs.json');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes nothing for a take-back sent at once (Redis up)', () => {
    const takeBacks = new TakeBacks(file);
    takeBacks.add('j1');
    takeBacks.sent('j1');
    takeBacks.keep();
    expect(existsSync(file)).toBe(false);
    expect(takeBacks.ids).toEqual([]);
  });

  it('keeps what could not be sent for the next daemon, and forgets it once sent', () => {
    const takeBacks = new TakeBacks(file);
    takeBacks.add('j1');
    takeBacks.add('j2');
    takeBacks.keep();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ v: 1, ids: ['j1', 'j2'] });

    const next = new TakeBacks(file);
    expect(next.ids).toEqual(['j1', 'j2']);
    next.sent('j1');
    expect(new TakeBacks(file).ids).toEqual(['j2']);
    next.add('j3');
    next.sent('j3');
    // j3 was never on disk: sending it changes nothing there.
    expect(new TakeBacks(file).ids).toEqual(['j2']);
    next.sent('j2');
    expect(new TakeBacks(file).ids).toEqual([]);
  });
});
