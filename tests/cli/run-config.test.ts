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
        `(the default): where attempts run is the daemon's choice; drop the key, or set it in ` +
        `${box.home}/orc.config.json and restart the daemon (orc daemon stop)\n`,
    );
    expect((await box.orc(['ls', '--json'], { cwd: dir })).stdout.trim()).toBe('[]');
  });

  describe('a user config edited while the daemon runs', () => {
    async function userConfig(config: unknown): Promise<string> {
      const file = join(box.home, 'xdg-config', 'claude-orchestrator', 'config.json');
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config));
      return file;
    }
    async function storedExecution(id: string): Promise<Record<string, unknown>> {
      const doc = JSON.parse(await readFile(join(box.home, 'runs', id, 'state.json'), 'utf8')) as {
        config: { execution: Record<string, unknown> };
      };
      return doc.config.execution;
    }

    it('applies to the next run without a restart', async () => {
      box = await Sandbox.create();
      await box.writeConfig(FAST_SIM);
      const dir = await project({});
      const first = await box.orc(['run', 'tasks.json', '--json'], { cwd: dir });
      expect(first.code, first.stderr).toBe(0);
      const pid = await box.daemonPid();
      await userConfig({ execution: { max_workers: 2 } });
      const next = await box.orc(['run', 'tasks.json', '--json'], { cwd: dir });
      expect(next.code, next.stderr).toBe(0);
      expect(await box.daemonPid()).toBe(pid);
      expect(await storedExecution((JSON.parse(next.stdout) as { id: string }).id)).toMatchObject({
        max_workers: 2,
      });
    });

    it('fails the next run in one line when malformed, and the daemon goes on', async () => {
      box = await Sandbox.create();
      await box.writeConfig(FAST_SIM);
      const dir = await project({});
      expect((await box.orc(['run', 'tasks.json', '--json'], { cwd: dir })).code).toBe(0);
      const file = await userConfig('{"execution": {"max_workers": 2,}}');
      const run = await box.orc(['run', 'tasks.json', '--detach'], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        new RegExp(`^orc: ${file}: is not valid JSON \\([^\\n]*\\); fix the syntax\\n$`),
      );
      await userConfig({ execution: { max_workers: 2 } });
      // The daemon's own file, which only the daemon reads: its refusal is the same one line.
      await writeFile(
        join(box.home, 'orc.config.json'),
        JSON.stringify({ ...FAST_SIM, execution: { max_worker: 2 } }),
      );
      const daemons = await box.orc(['run', 'tasks.json', '--detach'], { cwd: dir });
      expect(daemons).toMatchObject({
        code: 2,
        stderr:
          `orc: ${join(box.home, 'orc.config.json')}: unknown config key execution.max_worker; did you mean ` +
          `"max_workers"? (see orc config schema)\n`,
      });
      await box.writeConfig(FAST_SIM);
      const fixed = await box.orc(['run', 'tasks.json', '--json'], { cwd: dir });
      expect(fixed.code, fixed.stderr).toBe(0);
      expect((JSON.parse((await box.orc(['ls', '--json'], { cwd: dir })).stdout) as unknown[]).length).toBe(
        2,
      );
    });

    it('keeps the keys only the daemon decides until it restarts, and config show and doctor say so', async () => {
      box = await Sandbox.create();
      await box.writeConfig(FAST_SIM);
      const dir = await project({});
      expect((await box.orc(['run', 'tasks.json', '--json'], { cwd: dir })).code).toBe(0);
      const file = await userConfig({ execution: { machine_max_in_flight: 4, max_workers: 2 } });
      const run = await box.orc(['run', 'tasks.json', '--json'], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      expect(await storedExecution((JSON.parse(run.stdout) as { id: string }).id)).toMatchObject({
        max_workers: 2,
        machine_max_in_flight: 16,
      });
      const note =
        `${file} sets execution.machine_max_in_flight, read only when the daemon starts: the running daemon ` +
        `started before this file changed; orc daemon stop, then any command, to apply`;
      const show = await box.orc(['config', 'show'], { cwd: dir });
      expect(show.stdout).toContain(`note: ${note}\n`);
      const doctor = await box.orc(['doctor'], { cwd: dir });
      expect(doctor.stdout).toContain(`warn  config     ${note}\n`);
      expect((await box.orc(['daemon', 'stop'], { cwd: dir })).code).toBe(0);
      const after = await box.orc(['run', 'tasks.json', '--json'], { cwd: dir });
      expect(after.code, after.stderr).toBe(0);
      expect(await storedExecution((JSON.parse(after.stdout) as { id: string }).id)).toMatchObject({
        machine_max_in_flight: 4,
      });
      expect((await box.orc(['config', 'show'], { cwd: dir })).stdout).not.toContain('note:');
    });
  });
});
