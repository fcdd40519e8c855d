import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runWorkMs, type RunView } from '@orc/shared';
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

/** A follower (`orc run` in the foreground, `orc logs --follow`) and what it says, as it goes. */
function follow(box: Sandbox, args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: box.home, env: box.env });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  return { child, out, exited };
}

async function chainOf(length: number, latencyMs: number): Promise<void> {
  await box.writeConfig({
    models: { provider: 'simulated' },
    simulated: { latency_ms: { min: latencyMs, max: latencyMs + 100 } },
  });
  const tasks = Array.from({ length }, (_, i) => ({
    id: `t${i}`,
    title: `step ${i}`,
    dependencies: i === 0 ? [] : [`t${i - 1}`],
  }));
  await writeFile(join(box.home, 'tasks.json'), JSON.stringify(tasks));
}

describe('a foreground orc run that loses the daemon', () => {
  it('starts a daemon killed under it once, says so, and follows the run to its end', async () => {
    box = await Sandbox.create();
    await chainOf(8, 200);
    const run = follow(box, ['run', 'tasks.json']);
    try {
      await until(() => run.out.stdout.includes('task.completed'), 'a task done before the kill');
      const killed = (await box.daemonPid())!;
      process.kill(killed, 'SIGKILL');
      // No other command: the follower starts the daemon itself, as any command would.
      expect(await run.exited).toBe(0);
      const started = (await box.daemonPid())!;
      expect(started).not.toBe(killed);
      const said = run.out.stderr.split('\n').filter(Boolean);
      expect(said[0]).toBe('orc: lost the daemon; starting it again');
      expect(said.slice(1).sort()).toEqual([
        `orc: the daemon (pid ${killed}) had died; started a new one (pid ${started}), and the runs it held go on`,
        'orc: the daemon is back; following on',
      ]);
    } finally {
      run.child.kill('SIGKILL');
    }
    expect(run.out.stdout).toMatch(/^run \S+ completed \[SIMULATED\]: 8\/8 done/m);
  }, 90_000);

  it('leaves a daemon stopped with orc daemon stop stopped, says so, and follows on once someone starts it', async () => {
    box = await Sandbox.create();
    await chainOf(6, 300);
    const run = follow(box, ['run', 'tasks.json']);
    try {
      await until(() => run.out.stdout.includes('task.completed'), 'a task done before the stop');
      const stopped = await box.orc(['daemon', 'stop']);
      expect(stopped.code, stopped.stderr).toBe(0);
      await until(() => run.out.stderr.includes('stopped'), 'the command to say so');
      // Long enough for a restart to have happened (the screen's took under 4 s): none did.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await box.daemonPid()).toBeUndefined();
      expect(run.out.stderr).toBe(
        'orc: the daemon was stopped (orc daemon stop); following on once it is started again (orc daemon start)\n',
      );
      const restarted = await box.orc(['daemon', 'start', '--json']);
      expect(restarted.code, restarted.stderr).toBe(0);
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
    expect(run.out.stderr).toMatch(/\(orc daemon start\)\norc: the daemon is back; following on\n$/);
    expect(run.out.stdout).toMatch(/^run \S+ completed \[SIMULATED\]: 6\/6 done/m);
  }, 90_000);

  it('follows a run whose first events are larger than the bound, every event once, without a drop', async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
    });
    // run.created and run.planned carry every task: 500 of 20,000 characters make each about 10 MB, past
    // the 8 MiB queued at which a subscription waits for its socket. The daemon used to call such a
    // subscriber behind at event 3 and drop it (4408); it waits for the socket to drain instead.
    const tasks = Array.from({ length: 500 }, (_, i) => ({
      id: `t${i}`,
      title: `task ${i}`,
      description: 'd'.repeat(20_000),
    }));
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify(tasks));
    const run = await box.orc(['run', 'tasks.json', '--detach']);
    expect(run.code, run.stderr).toBe(0);
    const runId = run.stdout.trim();
    const done = await box.orc(['logs', runId, '--follow'], { timeoutMs: 120_000 });
    expect(done.code, done.stderr).toBe(0);
    const logs = await box.orc(['logs', runId], { timeoutMs: 60_000 });
    expect(logs).toMatchObject({ code: 0, stderr: '' });
    const ids = logs.stdout
      .trim()
      .split('\n')
      .map((line) => Number(/^#(\d+)/.exec(line)?.[1]));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(logs.stdout).toMatch(/run\.completed/);
    const log = await readFile(join(box.home, 'daemon.log'), 'utf8');
    expect(log).not.toMatch(/"code":4408/);
  }, 180_000);
});

describe('an attempt that a kill -9 of the daemon cut off', () => {
  it("ends when the daemon was last known alive for it, not at the restart: its time leaves out the daemon's downtime and never steps back", async () => {
    box = await Sandbox.create();
    // One attempt of 4 s: killed a second in, the daemon stays down 3 s.
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 4_000, max: 4_000 } },
    });
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify([{ id: 'a', title: 'One step' }]));
    const started = await box.orc(['run', 'tasks.json', '--detach']);
    expect(started.code, started.stderr).toBe(0);
    const runId = started.stdout.trim();
    // The journal's whole lines: read while the daemon appends, it may be empty or end in half a line.
    const events = async () =>
      (await readFile(join(box.home, 'runs', runId, 'events.jsonl'), 'utf8'))
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line) as { type: string; at: string; lastAliveAt?: string });
    const deadline = Date.now() + 20_000;
    while (!(await events()).some((e) => e.type === 'task.assigned')) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the attempt to begin');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    // The working time a person reads at the kill: nothing was journalled for the second before it.
    const live = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as RunView;
    process.kill((await box.daemonPid())!, 'SIGKILL');
    const killedAt = Date.now();
    const workedAtKill = runWorkMs(live, killedAt);
    await new Promise((r) => setTimeout(r, 3_000));

    const shown = await box.orc(['show', runId, 'a', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const task = JSON.parse(shown.stdout) as {
      attempts: { n: number; outcome: string; startedAt: string; endedAt?: string }[];
    };
    const cut = task.attempts[0]!;
    expect(cut.outcome).toBe('interrupted');
    // The daemon's mark of life says until when it was alive: at the kill or a little after (up to the
    // 2 s a mark looks ahead), never before it, and far from the restart 3 s later.
    const endedAt = Date.parse(cut.endedAt!);
    expect(endedAt).toBeGreaterThanOrEqual(killedAt - 50);
    expect(endedAt).toBeLessThanOrEqual(killedAt + 2_000);
    // The journal says when, so every client that folds it has the same end.
    const restored = (await events()).find((e) => e.type === 'run.restored')!;
    expect(restored.lastAliveAt).toBe(cut.endedAt);
    expect(Date.parse(restored.at) - killedAt).toBeGreaterThanOrEqual(3_000);
    // The run's working time leaves the downtime out too (orc ls TIME, orc show, the report's makespan).
    const shownAt = Date.now();
    const run = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as RunView;
    expect(run.idleMs).toBe(Date.parse(restored.at) - Date.parse(restored.lastAliveAt!));
    // And it never steps back: the seconds worked since the last event before the kill stay counted.
    expect(runWorkMs(run, shownAt)).toBeGreaterThanOrEqual(workedAtKill);
  }, 60_000);
});

describe('a command that starts the daemon', () => {
  it('says in one line on stderr when it started it again: stopped before, or found dead', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'simulated' } });
    // The first start in a state directory is the one the README announces: nothing said.
    expect(await box.orc(['ls', '--json'])).toMatchObject({ code: 0, stdout: '[]\n', stderr: '' });
    await box.orc(['daemon', 'stop']);
    const again = await box.orc(['ls', '--json']);
    expect(again).toMatchObject({ code: 0, stdout: '[]\n' });
    const pid = (await box.daemonPid())!;
    expect(again.stderr).toBe(`orc: the daemon was not running; started it (pid ${pid})\n`);
    // Running, it says nothing.
    expect(await box.orc(['ls', '--json'])).toMatchObject({ code: 0, stderr: '' });

    process.kill(pid, 'SIGKILL');
    await until(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the daemon to die');
    const restarted = await box.orc(['ls', '--json']);
    expect(restarted).toMatchObject({ code: 0, stdout: '[]\n' });
    expect(restarted.stderr).toBe(
      `orc: the daemon (pid ${pid}) had died; started a new one (pid ${(await box.daemonPid())!}), and the runs it held go on\n`,
    );
  }, 60_000);
});
