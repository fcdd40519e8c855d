import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { OrcEvent } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_SIM, ROOT, Sandbox } from './harness.js';

let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

function example(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', 'dist', 'examples', `${name}.js`), ...args],
      { cwd: box.home, env: box.env, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('scripts/examples', () => {
  it('start-and-wait starts the daemon, runs a goal and waits; follow-events survives a drop', async () => {
    box = await Sandbox.create();
    await box.writeConfig(FAST_SIM);
    // The example sends no config; the daemon reads orc.config.json from its state dir.
    const started = await example('start-and-wait', ['two', 'short', 'notes']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const last = JSON.parse(started.stdout.trim().split('\n').at(-1)!) as {
      id: string;
      status: string;
      simulated: boolean;
    };
    expect(last).toMatchObject({ status: 'completed', simulated: true });

    const followed = await example('follow-events', [last.id, '--drop-after', '3']);
    expect(followed.code).toBe(0);
    expect(followed.stderr).toContain('connection dropped; reconnecting');
    const ids = followed.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as OrcEvent).id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(ids.length).toBeGreaterThan(3);
  });

  it('follow-ups adds a checking task for each task as it starts, and the run does them all', async () => {
    box = await Sandbox.create();
    // A task's work and review take long enough for the follow-up to arrive while it is in flight.
    await box.writeConfig({ ...FAST_SIM, simulated: { latency_ms: { min: 200, max: 300 } } });
    const grown = await example('follow-ups', ['two', 'short', 'notes']);
    expect(grown.stderr).toBe('');
    expect(grown.code).toBe(0);
    const last = JSON.parse(grown.stdout.trim().split('\n').at(-1)!) as {
      status: string;
      tasks: { id: string; status: string; dependencies: string[] }[];
    };
    expect(last.status).toBe('completed');
    const planned = last.tasks.filter((task) => !task.id.startsWith('check-'));
    expect(planned.length).toBeGreaterThan(0);
    // Added in the order the tasks started.
    const checks = last.tasks.filter((task) => task.id.startsWith('check-'));
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    expect(checks.sort(byId)).toEqual(
      planned.map((task) => ({ id: `check-${task.id}`, status: 'done', dependencies: [task.id] })).sort(byId),
    );
    expect(last.tasks.every((task) => task.status === 'done')).toBe(true);
  });
});
