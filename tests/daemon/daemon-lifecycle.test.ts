import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { daemonStatus, stopDaemon } from '@orc/daemon/client';
import { OrcError } from '@orc/shared';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON, Sandbox } from './harness.js';

let box: Sandbox;

beforeAll(async () => {
  const { stat } = await import('node:fs/promises');
  await stat(DAEMON); // built by `npx tsc -b` first
});

afterEach(async () => {
  await box.cleanup();
});

describe('daemon process', () => {
  it('starts, reports its status, and stops gracefully (daemon.json removed, exit 0)', async () => {
    box = await Sandbox.create();
    const info = await box.startDaemon();
    const file = JSON.parse(await readFile(join(box.home, 'daemon.json'), 'utf8')) as Record<string, unknown>;
    expect(file).toEqual({ pid: info.pid, port: info.port, version: '0.1.0', startedAt: info.startedAt });
    const status = await daemonStatus({ home: box.home, env: box.env });
    expect(status).toMatchObject({ running: true, info: { pid: info.pid, port: info.port } });
    for (const file of ['daemon.json', 'token', 'daemon.log']) {
      expect((await import('node:fs')).statSync(join(box.home, file)).mode & 0o777).toBe(0o600);
    }
    expect(await stopDaemon({ home: box.home, env: box.env })).toMatchObject({ pid: info.pid });
    expect(() => process.kill(info.pid, 0)).toThrow();
    expect(await daemonStatus({ home: box.home, env: box.env })).toEqual({ running: false, home: box.home });
  });

  it('refuses a second daemon for the same state dir, naming the pid and port of the first', async () => {
    box = await Sandbox.create();
    const info = await box.startDaemon();
    const error = await box.startDaemon().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrcError);
    expect((error as OrcError).code).toBe('DAEMON_ALREADY_RUNNING');
    expect((error as OrcError).message).toContain(`pid ${info.pid}, port ${info.port}`);
    expect((await daemonStatus({ home: box.home, env: box.env })).running).toBe(true);
  });

  it('lets exactly one of several daemons started at once win', async () => {
    box = await Sandbox.create();
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, [DAEMON], { env: box.env, stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    for (const child of children) box.pids.add(child.pid!);
    // Wait for the losers to give up (generously: four node processes start slowly on a loaded machine).
    const exits: number[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      for (const child of children) {
        child.once('exit', (code) => {
          exits.push(code ?? -1);
          if (exits.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        });
      }
    });
    // Three exit with an error; the winner keeps running.
    expect(exits).toEqual([1, 1, 1]);
    expect(children.filter((child) => child.exitCode === null && child.signalCode === null)).toHaveLength(1);
    // The losers give up on the lock while the winner may still be opening its store: it answers soon after.
    const deadline = Date.now() + 15_000;
    while (!(await daemonStatus({ home: box.home, env: box.env })).running && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await daemonStatus({ home: box.home, env: box.env })).running).toBe(true);
  });

  it('replaces a stale daemon.json (and lock) left by a daemon killed with -9', async () => {
    box = await Sandbox.create();
    const first = await box.startDaemon();
    process.kill(first.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    const status = await daemonStatus({ home: box.home, env: box.env });
    expect(status).toMatchObject({ running: false, stale: { pid: first.pid } });
    const second = await box.startDaemon();
    expect(second.pid).not.toBe(first.pid);
    expect(await daemonStatus({ home: box.home, env: box.env })).toMatchObject({
      running: true,
      info: { pid: second.pid },
    });
  });

  it('takes over a lock whose pid now belongs to some other process', async () => {
    box = await Sandbox.create();
    // Our own pid is alive but is not the daemon: the recorded start time does not match.
    await writeFile(join(box.home, 'daemon.lock'), JSON.stringify({ pid: process.pid, started: '1' }));
    const info = await box.startDaemon();
    expect(info.pid).not.toBe(process.pid);
  });

  it('stops on SIGTERM with exit code 0 and removes daemon.json', async () => {
    box = await Sandbox.create();
    const child = spawn(process.execPath, [DAEMON], { env: box.env, stdio: 'ignore' });
    box.pids.add(child.pid!);
    const { waitFor } = await import('./harness.js');
    await waitFor(async () => ((await box.daemonPid()) === child.pid ? true : undefined));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(await box.daemonPid()).toBeUndefined();
  });

  it('keeps secrets out of daemon.log', async () => {
    box = await Sandbox.create({ ANTHROPIC_API_KEY: `sk-ant-${'x'.repeat(40)}`, ORC_PROVIDER: 'simulated' });
    await box.startDaemon();
    const client = await box.client();
    await client.trpc.runs.start.mutate({
      goal: 'log a little',
      config: { models: { provider: 'simulated' } },
    });
    await stopDaemon({ home: box.home, env: box.env });
    const log = await readFile(join(box.home, 'daemon.log'), 'utf8');
    const token = (await readFile(join(box.home, 'token'), 'utf8')).trim();
    expect(log).toContain('"msg":"started"');
    expect(log).not.toContain('x'.repeat(40));
    expect(log).not.toContain(token);
  });
});
