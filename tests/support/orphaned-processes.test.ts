import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killOrphanedProcesses } from './orphaned-processes.js';

const started: ChildProcess[] = [];

/** A process that lives until killed, with `home` as its ORC_HOME; resolves once it runs. */
async function idleIn(home: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], {
    env: { PATH: process.env['PATH'], ORC_HOME: home },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  started.push(child);
  await new Promise((up) => child.stdout.once('data', up));
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.signalCode)
    : new Promise((done) => child.once('exit', (_code, signal) => done(signal)));

afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
});

describe('killOrphanedProcesses', () => {
  it('kills a process whose temp home was removed, and leaves one whose home is there', async () => {
    const removed = await mkdtemp(join(tmpdir(), 'orc-orphan-'));
    const kept = await mkdtemp(join(tmpdir(), 'orc-orphan-'));
    const orphan = await idleIn(removed);
    const live = await idleIn(kept);
    await rm(removed, { recursive: true });

    expect(await killOrphanedProcesses()).toContain(removed);
    expect(await exited(orphan)).toBe('SIGKILL');
    expect(live.exitCode).toBeNull();
    expect(process.kill(live.pid!, 0)).toBe(true);
    await rm(kept, { recursive: true });
  });
});
