import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_SIM, Sandbox } from '../daemon/harness.js';

/** Where a run's configuration comes from: the daemon's file in ORC_HOME, and the one where orc runs. */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

async function project(config: unknown): Promise<string> {
  const dir = join(box.home, 'project');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'orc.config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'tasks.json'), JSON.stringify([{ id: 'a', title: 'Task a' }]));
  return dir;
}

describe("a run's configuration", () => {
  it("is the daemon's with what this directory's file sets over it, and is stored so", async () => {
    box = await Sandbox.create();
    await box.writeConfig({ ...FAST_SIM, execution: { max_reworks: 5 }, checkpoints: { every_n_tasks: 0 } });
    const dir = await project({ execution: { max_workers: 2 } });
    const run = await box.orc(['run', 'tasks.json', '--json'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const { id } = JSON.parse(run.stdout) as { id: string };
    const doc = JSON.parse(await readFile(join(box.home, 'runs', id, 'state.json'), 'utf8')) as {
      config: { execution: Record<string, unknown>; checkpoints: Record<string, unknown> };
    };
    expect(doc.config.execution).toMatchObject({ max_reworks: 5, max_workers: 2 });
    expect(doc.config.checkpoints).toEqual({ every_n_tasks: 0 });
  });

  it("refuses a run whose file asks for another backend than the daemon's, in one line, exit 2", async () => {
    box = await Sandbox.create();
    await box.writeConfig(FAST_SIM);
    const dir = await project({ execution: { backend: 'redis' } });
    const run = await box.orc(['run', 'tasks.json', '--detach'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `orc: config key execution.backend is "redis" in ${join(dir, 'orc.config.json')}, but the daemon's is "local" ` +
        `(${box.home}/orc.config.json): where attempts run is the daemon's choice; drop the key, or set it ` +
        `there and restart the daemon (orc daemon stop)\n`,
    );
    expect((await box.orc(['ls', '--json'], { cwd: dir })).stdout.trim()).toBe('[]');
  });
});
