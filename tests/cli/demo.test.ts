import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../daemon/harness.js';

/** `npm run demo`'s program, built: the README's first command, a new user's first sight of orc. */
const DEMO = join(ROOT, 'packages', 'daemon', 'dist', 'demo.js');

let home: string;
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('npm run demo without ANTHROPIC_API_KEY (the built demo, a real process)', () => {
  it("runs its goal on the simulated model, labelled, planned as a person's steps that run side by side", async () => {
    home = await mkdtemp(join(tmpdir(), 'orc-demo-test-'));
    // Its own temp dir for the throwaway state it makes: what it leaves there is checked below.
    const scratch = join(home, 'tmp');
    await mkdir(scratch);
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (done) =>
        execFile(
          process.execPath,
          [DEMO],
          {
            cwd: home,
            env: { PATH: process.env['PATH'], HOME: home, ORC_HOME: home, TMPDIR: scratch },
            timeout: 60_000,
          },
          (error, out, err) =>
            done({
              code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
              stdout: out,
              stderr: err,
            }),
        ),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(
      /^run r\w+: Write a short guide to brewing tea: .* — SIMULATED model \(offline; set ANTHROPIC_API_KEY for real models\)$/,
    );
    // Each step its own task, not the goal's first words pasted before the first step; "then serve it" waits.
    expect(stdout).toContain(
      [
        'plan: [simulated] analysis, 3 parts in parallel, then 1 more, integration.',
        '  t1  Analyse the goal',
        '  t2  Choose the leaves (after t1)',
        '  t3  Heat the water (after t1)',
        '  t4  Time the steep (after t1)',
        '  t5  Serve it (after t2, t3, t4)',
        '  t6  Integrate and check the results (after t2, t3, t4, t5)',
      ].join('\n'),
    );
    // Its three workers start the three independent parts at once, before any of them is done; the
    // serving starts only once all three are.
    const startOf = (id: string) => lines.findIndex((l) => l.startsWith(`▶ ${id} `));
    const doneOf = (id: string) => lines.findIndex((l) => l.startsWith(`✔ ${id} `));
    const firstPartDone = Math.min(...['t2', 't3', 't4'].map(doneOf));
    expect(['t2', 't3', 't4'].map((id) => startOf(id) >= 0 && startOf(id) < firstPartDone)).toEqual([
      true,
      true,
      true,
    ]);
    expect(startOf('t5')).toBeGreaterThan(Math.max(...['t2', 't3', 't4'].map(doneOf)));
    // A result's first line is whole, not cut mid-word.
    expect(stdout).toMatch(
      /^✔ t3 done: \[simulated\] (Done|Completed|Finished): Heat the water \(task t3\)\.$/m,
    );
    expect(stdout).toContain('run completed: 6/6 tasks done');
    expect(stdout).toMatch(/; cost \$[\d.]+ \(simulated tokens at real prices: nothing was spent\)$/m);
    expect(stdout).toMatch(/^final review \(success\): \[simulated\] /m);
    // Its throwaway state directory is gone.
    expect(await readdir(scratch)).toEqual([]);
  }, 90_000);
});
