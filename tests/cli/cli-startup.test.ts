import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../daemon/harness.js';

/**
 * What an `orc` command loads before it does anything. Every command loading the engine (BullMQ, the
 * daemon's modules) and the screen (blessed) cost 0.65 s of CPU for `orc --version` and 0.72 s for
 * `orc ls` (0.07 s is Node itself); loaded only by the commands that use them, 0.31 s and 0.38 s. On a
 * machine at load 14 that was 5 to 13 s for each `orc` an end-to-end test ran, and the same for a user.
 * Measured as which modules load, not as time: a timed test would fail on a slow machine.
 */
const run = promisify(execFile);
let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function loadedBy(args: string[]): Promise<string[]> {
  dir = await mkdtemp(join(tmpdir(), 'orc-startup-'));
  const imports = join(dir, 'imports.txt');
  await run(process.execPath, ['--import', join(import.meta.dirname, 'record-imports.mjs'), CLI, ...args], {
    env: { PATH: process.env['PATH'], HOME: dir, ORC_HOME: dir, ORC_TEST_IMPORTS: imports },
  });
  return (await readFile(imports, 'utf8')).split('\n').filter((url) => url !== '');
}

/** What only `orc worker`, `orc attach` and `orc run` on a terminal need. */
const HEAVY = [
  /\/node_modules\/(bullmq|ioredis|blessed|prom-client|@anthropic-ai)\//,
  /\/daemon\/dist\/index\.js$/,
];

describe('orc starts light', () => {
  it('--version and ls load neither the engine nor the screen', async () => {
    for (const args of [['--version'], ['ls']]) {
      const loaded = await loadedBy(args);
      // The recorder sees the command's modules (a broken recorder would pass the check below).
      expect(loaded.some((url) => url.endsWith('/tui/dist/cli/main.js'))).toBe(true);
      expect(loaded.filter((url) => HEAVY.some((heavy) => heavy.test(url)))).toEqual([]);
      await rm(dir!, { recursive: true, force: true });
    }
  });
});
