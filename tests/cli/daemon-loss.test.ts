import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Sandbox } from '../daemon/harness.js';

let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

async function until(probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a foreground orc run that loses the daemon', () => {
  it('says so once, says once that it is back, and follows the run to its end', async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 200, max: 300 } },
    });
    const tasks = Array.from({ length: 8 }, (_, i) => ({
      id: `t${i}`,
      title: `step ${i}`,
      dependencies: i === 0 ? [] : [`t${i - 1}`],
    }));
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify(tasks));
    const run = spawn(process.execPath, [CLI, 'run', 'tasks.json'], { cwd: box.home, env: box.env });
    let stdout = '';
    let stderr = '';
    run.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    run.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => run.once('exit', done));
    try {
      await until(() => stdout.includes('task.completed'), 'a task done before the kill');
      process.kill((await box.daemonPid())!, 'SIGKILL');
      await until(() => stderr.includes('lost the daemon'), 'the command to say so');
      // Long enough for the client to try reconnecting several times (100 ms, 200 ms, 400 ms, …).
      await new Promise((r) => setTimeout(r, 3_000));
      const restarted = await box.orc(['daemon', 'start', '--json']);
      expect(restarted.code, restarted.stderr).toBe(0);
      expect(await exited).toBe(0);
    } finally {
      run.kill('SIGKILL');
    }
    expect(stderr).toBe(
      'orc: lost the daemon; waiting for it to come back (orc daemon start starts it)\n' +
        'orc: the daemon is back; following on\n',
    );
    expect(stdout).toMatch(/^run \S+ completed \[SIMULATED\]: 8\/8 done/m);
  }, 90_000);
});
