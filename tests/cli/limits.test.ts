import { existsSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

/** Runs that stay put while a test looks at them: every model call takes seconds. */
const SLOW_SIM = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 5_000, max: 6_000 } } };

let box: Sandbox;

afterEach(async () => {
  await box.cleanup();
});

/** A user mistake: exit 2, one line on stderr naming the limit, nothing on stdout. */
function expectRefusal(result: { code: number; stdout: string; stderr: string }, message: string) {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe(`orc: ${message}\n`);
}

async function writeTasks(name: string, tasks: unknown[]): Promise<string> {
  const file = join(box.home, name);
  await writeFile(file, JSON.stringify({ tasks }));
  return file;
}

describe('orc run: input limits (built CLI, real daemon)', () => {
  it('refuses a goal, a tasks file, a task count and a title over their limits before sending anything', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SLOW_SIM);

    expectRefusal(
      await box.orc(['run', 'g'.repeat(100_001)]),
      'the goal is 100,001 characters, over the limit of 100,000; shorten it, or give the work as a tasks file',
    );

    const huge = await writeTasks('huge.json', [{ id: 'a', title: 'a' }]);
    await truncate(huge, 33 * 1024 * 1024); // sparse: only its size is looked at
    expectRefusal(
      await box.orc(['run', huge]),
      `${huge}: is 33 MiB, over the limit of 32 MiB for a tasks file; split the work into several runs`,
    );

    const many = await writeTasks(
      'many.json',
      Array.from({ length: 100_001 }, (_, i) => ({ id: `t${i}`, title: 't' })),
    );
    expectRefusal(
      await box.orc(['run', many]),
      `${many}: has 100,001 tasks, over the limit of 100,000 in one run; split the work into several runs`,
    );

    const long = await writeTasks('long.json', [
      { id: 'a', title: 'fine' },
      { id: 'b', title: 't'.repeat(501) },
    ]);
    expectRefusal(
      await box.orc(['run', long]),
      `${long}: task b: title 501 characters, over the limit of 500`,
    );

    // Nothing was started: the CLI refused before it needed the daemon.
    expect(existsSync(join(box.home, 'daemon.json'))).toBe(false);
    expect(existsSync(join(box.home, 'runs'))).toBe(false);
  });

  it('runs a 20 MB tasks file of 100,000 tasks', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SLOW_SIM);
    const pad = 'x'.repeat(150);
    const file = await writeTasks(
      'big.json',
      Array.from({ length: 100_000 }, (_, i) => ({
        id: `t${i + 1}`,
        title: `task ${i + 1}`,
        description: pad,
      })),
    );
    expect((await readFile(file)).length).toBeGreaterThan(20_000_000);
    const started = await box.orc(['run', file, '--detach', '--json'], { timeoutMs: 90_000 });
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const summary = JSON.parse(started.stdout) as { id: string; taskTotal: number };
    expect(summary.taskTotal).toBe(100_000);
    expect((await box.orc(['cancel', summary.id], { timeoutMs: 60_000 })).code).toBe(0);
  }, 120_000);

  it('lists runs with the goal cut to 200 characters; show has the whole goal', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SLOW_SIM);
    const goal = `${'plan this. '.repeat(500)}end`;
    const started = await box.orc(['run', goal, '--detach', '--json']);
    expect(started.code).toBe(0);
    const { id } = JSON.parse(started.stdout) as { id: string };

    const [listed] = JSON.parse((await box.orc(['ls', '--json'])).stdout) as { goal: string }[];
    expect(listed!.goal).toHaveLength(200);
    expect(listed!.goal).toBe(`${goal.slice(0, 199)}…`);
    const shown = JSON.parse((await box.orc(['show', id, '--json'])).stdout) as { goal: string };
    expect(shown.goal).toBe(goal);
    // The index every listing is built from holds the cut goal too.
    const index = await readFile(join(box.home, 'runs', 'index.json'), 'utf8');
    expect(index).not.toContain(goal);
    expect(index).toContain(listed!.goal);
  });
});
