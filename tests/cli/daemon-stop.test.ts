import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunView } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Sandbox, waitFor } from '../daemon/harness.js';

/**
 * `orc daemon stop` with work under way waits up to its grace period (10 s) for it: a new user's trial sat
 * ~9 s before a word, "daemon stopped". Now it says at once what it waits for.
 */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const TASKS = [
  { id: 'a', title: 'Write alpha' },
  { id: 'b', title: 'Write bravo', dependencies: ['a'] },
];

describe('orc daemon stop', () => {
  it('says at once that it waits for the work under way, before that work is done', async () => {
    box = await Sandbox.create();
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify(TASKS));
    // Each call takes 4 s: the stop waits for the attempt under way (its grace period is 10 s).
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 4000, max: 4000 } },
    });
    const started = await box.orc(['run', 'tasks.json', '--detach']);
    expect(started.code, started.stderr).toBe(0);
    const runId = started.stdout.trim();
    await waitFor(async () => {
      const view = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as RunView;
      return view.busyWorkers > 0 ? true : undefined;
    });
    const pid = (await box.daemonPid())!;

    const stop = spawn(process.execPath, [CLI, 'daemon', 'stop', '--json'], { cwd: box.home, env: box.env });
    let stdout = '';
    let stderr = '';
    let aliveAtFirstLine: boolean | undefined;
    stop.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    stop.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The daemon is still waiting for the work when the line comes, not gone already.
      aliveAtFirstLine ??= isAlive(pid);
    });
    const code = await new Promise<number | null>((done) => stop.on('close', done));
    expect(code, stderr).toBe(0);
    expect(stderr).toBe(
      'stopping the daemon: waiting up to 10s for the work under way in 1 run; what is not done by then goes on when it starts again\n',
    );
    expect(aliveAtFirstLine).toBe(true);
    // stdout stays the one JSON document.
    expect(JSON.parse(stdout)).toEqual({ stopped: true, pid });
  }, 60_000);

  it('says only that it stopped when nothing is under way', async () => {
    box = await Sandbox.create();
    const idle = await box.orc(['daemon', 'start']);
    expect(idle.code, idle.stderr).toBe(0);
    const quiet = await box.orc(['daemon', 'stop']);
    expect(quiet).toMatchObject({ code: 0, stderr: '' });
    expect(quiet.stdout).toMatch(/^daemon stopped \(pid \d+\)\n$/);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
