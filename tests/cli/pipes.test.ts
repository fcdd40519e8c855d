import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Sandbox } from '../daemon/harness.js';

/**
 * `orc` in real shell pipes, on a run big enough that its output is many times a pipe's 64 KiB buffer:
 * what a slow reader gets must be complete, and a reader that stops early is no error.
 */
const TASKS = 600;
let box: Sandbox;
let runId: string;
const orc = `'${process.execPath}' '${CLI}'`;

function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      'sh',
      ['-c', script],
      { cwd: box.home, env: box.env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  box = await Sandbox.create();
  await box.writeConfig({ models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 0 } } });
  const tasks = Array.from({ length: TASKS }, (_, i) => ({
    id: `t${i + 1}`,
    title: `task ${i + 1}`,
    dependencies: i >= 20 ? [`t${i - 19}`] : [],
  }));
  await writeFile(join(box.home, 'tasks.json'), JSON.stringify(tasks));
  const run = await box.orc(['run', 'tasks.json', '--json'], { timeoutMs: 120_000 });
  expect(run.code, run.stderr).toBe(0);
  runId = (JSON.parse(run.stdout) as { id: string }).id;
}, 150_000);

afterAll(async () => {
  await box.cleanup();
});

describe('orc in a pipe', () => {
  it('gives a slow reader all of `show --json`, as much as a file gets', async () => {
    const file = await sh(`${orc} show ${runId} --json > show.json && wc -c < show.json`);
    const bytes = Number(file.stdout.trim());
    expect(bytes).toBeGreaterThan(4 * 65_536);
    // The reader starts after the writer has filled the pipe; before the fix it got 65,536 bytes.
    const slow = await sh(`${orc} show ${runId} --json | (sleep 0.5; wc -c)`);
    expect(Number(slow.stdout.trim())).toBe(bytes);
    const wc = await sh(`${orc} show ${runId} --json | wc -c`);
    expect(Number(wc.stdout.trim())).toBe(bytes);
    const text = await sh(`${orc} show ${runId} --json | (sleep 0.5; cat)`);
    // Streamed a page at a time (600 tasks are two pages): every task whole, in the run's order.
    const shown = JSON.parse(text.stdout) as {
      id: string;
      simulated: boolean;
      taskTotal: number;
      tasks: { id: string; status: string; result?: string }[];
    };
    expect(shown).toMatchObject({ id: runId, simulated: true, taskTotal: TASKS });
    expect(shown.tasks.map((t) => t.id)).toEqual(Array.from({ length: TASKS }, (_, i) => `t${i + 1}`));
    expect(shown.tasks.every((t) => t.status === 'done' && typeof t.result === 'string')).toBe(true);
  });

  it('gives a slow reader every event of `logs --json` and every line of `logs`', async () => {
    const json = await sh(`${orc} logs ${runId} --json | (sleep 0.5; cat)`);
    expect(json.code, json.stderr).toBe(0);
    const events = JSON.parse(json.stdout) as { id: number }[];
    expect(events.length).toBeGreaterThan(TASKS * 4);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const lines = await sh(`${orc} logs ${runId} | (sleep 0.5; wc -l)`);
    expect(Number(lines.stdout.trim())).toBe(events.length);
  });

  it('ends quietly with exit 0 when the reader stops early (head)', async () => {
    for (const args of ['logs', 'logs --follow', 'logs --json', 'show', 'show --json', 'ls']) {
      const [command, ...flags] = args.split(' ');
      const target = command === 'ls' ? '' : runId;
      const result = await sh(
        `{ ${orc} ${command} ${target} ${flags.join(' ')}; echo "exit $?" > code.txt; } | head -1; cat code.txt`,
      );
      const [first, code] = result.stdout.trim().split('\n');
      expect(first, args).not.toBe('');
      expect(code, args).toBe('exit 0');
      expect(result.stderr, args).toBe('');
    }
  });
});
