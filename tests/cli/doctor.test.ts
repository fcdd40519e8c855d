import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const KEY = 'sk-ant-api03-test-key-not-real-0123456789';

describe('orc doctor', () => {
  it('checks what the running daemon will do, not what this shell has', async () => {
    box = await Sandbox.create();
    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code, started.stderr).toBe(0);
    box.env['ANTHROPIC_API_KEY'] = KEY;

    const simulated = await box.orc(['doctor']);
    expect(simulated.code, simulated.stderr).toBe(0);
    expect(simulated.stdout).toMatch(/^ok {4}api key {4}set in this shell; the running daemon has none$/m);
    expect(simulated.stdout).toMatch(
      /^warn {2}models {5}runs will be SIMULATED: this shell has ANTHROPIC_API_KEY but the running daemon was started without it/m,
    );

    await box.writeConfig({ models: { provider: 'anthropic' } });
    const failing = await box.orc(['doctor', '--json']);
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'models')).toMatchObject({ status: 'fail' });
    expect(failing.stdout).not.toContain(KEY);
    expect(failing.stderr).toBe('orc: 1 check failed\n');

    // Restarted from this shell, the daemon has the key: nothing left to fix.
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect((await box.orc(['daemon', 'start'])).code).toBe(0);
    const fixed = await box.orc(['doctor']);
    expect(fixed.stdout).toMatch(/^ok {4}models {5}anthropic$/m);
    expect(fixed.stdout).toMatch(/the running daemon has one$/m);
    await box.daemonPid();
  });
});

describe('orc doctor on the configuration files', () => {
  it("says what a typo in the daemon's own file stops: new runs while it runs, its start while it is stopped", async () => {
    box = await Sandbox.create();
    expect((await box.orc(['daemon', 'start'])).code).toBe(0);
    await box.writeConfig({ execution: { max_workerz: 2 } });
    // From a project of its own, as a user would: the file is the daemon's only.
    const project = join(box.home, 'project');
    await mkdir(project);
    const problem = `the daemon's ${join(box.home, 'orc.config.json')}: unknown config key execution.max_workerz; did you mean "max_workers"? (see orc config schema)`;
    const running = await box.orc(['doctor'], { cwd: project });
    expect(running.code).toBe(1);
    expect(running.stdout).toContain(
      `FAIL  config     ${problem}; new runs fail until it is fixed (runs under way go on; the daemon would not start again with it)\n`,
    );
    // What it says is so: a run started now fails on the file.
    await writeFile(join(project, 'tasks.json'), JSON.stringify([{ id: 't1', title: 'one' }]));
    const run = await box.orc(['run', 'tasks.json'], { cwd: project });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('unknown config key execution.max_workerz');
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    const stopped = await box.orc(['doctor'], { cwd: project });
    expect(stopped.stdout).toContain(
      `FAIL  config     ${problem}; the daemon will not start until it is fixed\n`,
    );
    expect((await box.orc(['daemon', 'start'])).code).not.toBe(0);
  });

  it("names this directory's file and the daemon's, the keys each sets, and which wins", async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      execution: { max_workers: 8, max_reworks: 4 },
    });
    const dir = join(box.home, 'project');
    await mkdir(dir);
    await writeFile(join(dir, 'orc.config.json'), JSON.stringify({ execution: { max_workers: 2 } }));

    const doctor = await box.orc(['doctor'], { cwd: dir });
    expect(doctor.code, doctor.stderr).toBe(0);
    const lines = doctor.stdout.split('\n').filter((line) => / config /.test(line));
    expect(lines).toEqual([
      `ok    config     ${box.home}/orc.config.json (the daemon's) sets models.provider, execution.max_workers, execution.max_reworks; a run's own keys go over it`,
      `ok    config     ${dir}/orc.config.json (here) sets execution.max_workers; sent with each run started here, over the daemon's`,
      `ok    config     both set execution.max_workers: this directory's wins for runs started here`,
    ]);

    // A backend of its own here is refused by the daemon at each run: doctor says so first.
    await writeFile(join(dir, 'orc.config.json'), JSON.stringify({ execution: { backend: 'redis' } }));
    const conflict = await box.orc(['doctor'], { cwd: dir });
    expect(conflict.code).toBe(1);
    // Both values, as orc run's refusal gives them.
    expect(conflict.stdout).toContain(
      `FAIL  config     execution.backend is "redis" here, but the daemon's is "local" (the default); ` +
        `where attempts run is the daemon's choice, so runs started here are refused: drop it from ` +
        `${dir}/orc.config.json, or set it in ${box.home}/orc.config.json and restart the daemon\n`,
    );
    // Its ok line does not say the key goes over the daemon's, beside that FAIL.
    expect(conflict.stdout).toContain(
      `ok    config     ${dir}/orc.config.json (here) sets execution.backend, which only the daemon decides: ` +
        `not the same as the daemon's (see below)\n`,
    );
    expect(conflict.stdout).not.toContain('sent with each run started here');
    // So is any other key that is the daemon's alone, with its own why.
    await writeFile(
      join(dir, 'orc.config.json'),
      JSON.stringify({ execution: { machine_max_in_flight: 3 } }),
    );
    const cap = await box.orc(['doctor'], { cwd: dir });
    expect(cap.code).toBe(1);
    expect(cap.stdout).toContain(
      `FAIL  config     execution.machine_max_in_flight is 3 here, but the daemon's is 16 ` +
        `(the default); it caps the model calls of every run of the daemon, so runs started ` +
        `here are refused: drop it from ${join(dir, 'orc.config.json')}, or set it in ` +
        `${box.home}/orc.config.json and restart the daemon`,
    );

    // The same value as the daemon's is said to be, beside a key of the run's own; nothing fails.
    await box.writeConfig({ models: { provider: 'simulated' }, monitoring: { verbose_logging: true } });
    await writeFile(
      join(dir, 'orc.config.json'),
      JSON.stringify({ monitoring: { verbose_logging: true }, execution: { max_workers: 2 } }),
    );
    const same = await box.orc(['doctor'], { cwd: dir });
    expect(same.code, same.stdout).toBe(0);
    expect(same.stdout).toContain(
      `ok    config     ${dir}/orc.config.json (here) sets execution.max_workers; sent with each run started ` +
        `here, over the daemon's; monitoring.verbose_logging, which only the daemon decides: the same as the ` +
        `daemon's, as it must be\n`,
    );
    expect(same.stdout).not.toMatch(/^FAIL/m);
  });
});
