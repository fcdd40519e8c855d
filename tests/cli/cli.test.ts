import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, FAST_SIM, Sandbox } from '../daemon/harness.js';

async function until(probe: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let box: Sandbox;

afterEach(async () => {
  await box.cleanup();
});

describe('orc (built CLI, real daemon)', () => {
  it('daemon start|status|stop, with --json and exit codes', async () => {
    box = await Sandbox.create();
    const before = await box.orc(['daemon', 'status']);
    expect(before.code).toBe(5);
    expect(before.stderr.trim()).toBe('orc: daemon not running; start it with orc daemon start');
    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code).toBe(0);
    const info = JSON.parse(started.stdout) as { pid: number; port: number };
    box.pids.add(info.pid);
    const again = await box.orc(['daemon', 'start']);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain(`pid ${info.pid}, port ${info.port}`);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    const status = await box.orc(['daemon', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: info.pid, port: info.port });
    const stopped = await box.orc(['daemon', 'stop', '--json']);
    expect(JSON.parse(stopped.stdout)).toEqual({ stopped: true, pid: info.pid });
  });

  it('runs a goal to completion (starting the daemon), says SIMULATED, and --json gives one summary', async () => {
    box = await Sandbox.create();
    // Slow enough for a few of the progress lines printed every 50 ms.
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 150, max: 200 } },
      monitoring: { progress_interval: 0.05 },
    });
    const human = await box.orc(['run', 'write', 'a', 'haiku']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('[SIMULATED]');
    expect(human.stdout).toMatch(/run \S+ completed \[SIMULATED\]/);
    // Not a terminal: one line per event, each starting with its id, and where the run stands now and then.
    expect(human.stdout).toMatch(/^#1 .*run\.created/m);
    expect(human.stdout).toMatch(/^progress: \d+\/\d+ settled.*, \d+ running, \d+s in$/m);
    await box.writeConfig(FAST_SIM);
    const json = await box.orc(['run', 'another haiku', '--json']);
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout) as { status: string; simulated: boolean; id: string };
    expect(summary).toMatchObject({ status: 'completed', simulated: true });
    const ls = await box.orc(['ls', '--json']);
    expect((JSON.parse(ls.stdout) as { id: string }[]).map((r) => r.id)).toContain(summary.id);
  });

  it('runs a tasks file; --detach prints the run id; logs replays and --after resumes without gaps', async () => {
    box = await Sandbox.create();
    await box.writeConfig(FAST_SIM);
    const file = join(box.home, 'tasks.json');
    await writeFile(
      file,
      JSON.stringify({
        tasks: [
          { id: 'a', title: 'first' },
          { id: 'b', title: 'second', dependencies: ['a'] },
        ],
      }),
    );
    const detached = await box.orc(['run', file, '--detach']);
    expect(detached.code).toBe(0);
    const runId = detached.stdout.trim();
    expect(runId).toMatch(/^\S+$/);
    const followed = await box.orc(['logs', runId, '--follow']);
    expect(followed.code).toBe(0);
    const ids = followed.stdout
      .trim()
      .split('\n')
      .map((line) => Number(/^#(\d+)/.exec(line)?.[1]));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(followed.stdout).toContain('run.completed');
    const cut = Math.floor(ids.length / 2);
    const resumed = await box.orc(['logs', runId, '--after', String(cut), '--json']);
    expect((JSON.parse(resumed.stdout) as { id: number }[]).map((e) => e.id)).toEqual(ids.slice(cut));
    const show = await box.orc(['show', runId, '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: runId, status: 'completed', simulated: true });
  });

  it('logs --follow says when the daemon dies, starts it again itself, and shows no event twice', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ ...FAST_SIM, simulated: { latency_ms: { min: 300, max: 400 } } });
    const file = join(box.home, 'tasks.json');
    const tasks = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i, all) => ({
      id,
      title: `step ${id}`,
      dependencies: i === 0 ? [] : [all[i - 1]],
    }));
    await writeFile(file, JSON.stringify({ tasks }));
    const runId = (await box.orc(['run', file, '--detach'])).stdout.trim();
    const follower = spawn(process.execPath, [CLI, 'logs', runId, '--follow'], { env: box.env });
    let stdout = '';
    let stderr = '';
    follower.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    follower.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => follower.once('exit', done));
    try {
      await until(() => stdout.includes('task.completed'), 'a task done before the kill');
      const daemon = (await box.daemonPid())!;
      process.kill(daemon, 'SIGKILL');
      // No other command starts it: the follower does, once, as any command would.
      expect(await exited).toBe(0);
      const started = (await box.daemonPid())!;
      expect(stderr).toContain('orc: lost the daemon; starting it again\n');
      expect(stderr).toContain(
        `orc: the daemon (pid ${daemon}) had died; started a new one (pid ${started})`,
      );
    } finally {
      follower.kill('SIGKILL');
    }
    expect(stderr).toContain('orc: the daemon is back; following on');
    const ids = stdout
      .trim()
      .split('\n')
      .map((line) => Number(/^#(\d+)/.exec(line)?.[1]));
    expect(ids, 'every event once, in order').toEqual(ids.map((_, i) => i + 1));
    expect(stdout).toContain('run.restored');
    expect(stdout).toContain('run.completed');
  });

  it('says why a run is simulated when the key was set after the daemon started', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ simulated: FAST_SIM.simulated });
    const started = await box.orc(['daemon', 'start', '--json']);
    box.pids.add((JSON.parse(started.stdout) as { pid: number }).pid);
    box.env['ANTHROPIC_API_KEY'] = 'sk-ant-api03-test-key-not-real';
    const run = await box.orc(['run', 'a haiku', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', simulated: true });
    expect(run.stderr).toMatch(
      /^orc: run \S+ is SIMULATED: the daemon was started without ANTHROPIC_API_KEY/,
    );
    expect(run.stderr).not.toContain('sk-ant-api03');
    // Asked for by name, the simulated model needs no explanation.
    const chosen = await box.orc(['run', 'another haiku', '--provider', 'simulated', '--json']);
    expect(chosen.code).toBe(0);
    expect(chosen.stderr).toBe('');
  });

  it('reports user mistakes in one line with a distinct exit code and no stack trace', async () => {
    box = await Sandbox.create();
    const unknown = await box.orc(['show', 'no-such-run']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr.trim()).toMatch(/^orc: no run "no-such-run"; .*orc ls/);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    const bad = join(box.home, 'bad.json');
    await writeFile(bad, JSON.stringify([{ id: 'x y', title: 't' }]));
    const badFile = await box.orc(['run', bad]);
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toMatch(/^orc: .*bad\.json: task 1 \(tasks\[0\]\): id "x y": task ids use /);
    const badFlag = await box.orc(['run', 'goal', '--workers', 'three']);
    expect(badFlag).toMatchObject({ code: 2, stdout: '' });
    expect(badFlag.stderr.trim()).toBe('orc: --workers must be a positive integer (got "three")');
    const badRollback = await box.orc(['rollback', 'r', 'cp1', '--strategy', 'selective']);
    expect(badRollback.code).toBe(2);
    const badBudget = await box.orc(['resume', 'r', '--budget', 'lots']);
    expect(badBudget).toMatchObject({ code: 2, stdout: '' });
    expect(badBudget.stderr.trim()).toBe(
      'orc: --budget must be a positive amount of US dollars (got "lots")',
    );
    for (const result of [unknown, badFile, badFlag, badRollback, badBudget])
      expect(result.stderr).not.toContain('    at ');
  });

  it('config show|validate|schema work without a daemon', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ execution: { max_workers: 'three' } });
    const invalid = await box.orc(['config', 'validate']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('execution.max_workers');
    await box.writeConfig({ execution: { max_workers: 5 } });
    const show = await box.orc(['config', 'show', '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({
      config: { execution: { max_workers: 5 } },
      apiKey: 'not set',
    });
    const schema = await box.orc(['config', 'schema']);
    expect(JSON.parse(schema.stdout)).toHaveProperty('properties');
    const doctor = await box.orc(['doctor', '--json']);
    expect(JSON.parse(doctor.stdout)).toHaveProperty('checks');
    expect(await box.daemonPid()).toBeUndefined();
  });
});
