import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unfinishedRunsIn } from './run-index.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('unfinishedRunsIn', () => {
  it('names the runs the index does not call finished; none without an index; undefined when unreadable', async () => {
    dir = await mkdtemp(join(tmpdir(), 'orc-index-'));
    const file = join(dir, 'index.json');
    expect(unfinishedRunsIn(file)).toEqual(new Set());
    const entry = (id: string, status: string) => ({
      id,
      goal: id,
      status,
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        runs: [
          entry('r1', 'executing'),
          entry('r2', 'completed'),
          entry('r3', 'paused'),
          entry('r4', 'damaged'),
        ],
      }),
    );
    expect(unfinishedRunsIn(file)).toEqual(new Set(['r1', 'r3', 'r4']));
    await writeFile(file, '{"version":1,"runs":[');
    expect(unfinishedRunsIn(file)).toBeUndefined();
  });
});
