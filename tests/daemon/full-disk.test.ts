import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrcClient } from '@orc/daemon/client';
import { randomDag, readJournal } from '@orc/test-support';
import type { ConfigInput, OrcEvent, RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON, Sandbox, waitFor } from './harness.js';

/**
 * A real full disk: the state directory on a small tmpfs (root can mount one), and a real size limit
 * (`ulimit -f`, EFBIG). Each run is 10,000 tasks on the zero-latency simulator, so the disk fills
 * mid-run. Mounts are undone whatever happens.
 */

/** Whether this machine lets the test mount a tmpfs, and if not why. */
function mountPermission(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'orc-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mounting a tmpfs is not permitted here (${(error as Error).message.split('\n')[0]})`;
  } finally {
    rmdirSync(dir);
  }
}
const cannotMount = mountPermission();

const SIZE = 10_000;
const FAST: ConfigInput = {
  models: { provider: 'simulated' },
  execution: { max_workers: 16 },
  simulated: { seed: 6, latency_ms: { min: 0, max: 0 } },
};

let box: Sandbox | undefined;
const mounts: string[] = [];
afterEach(async () => {
  // The daemon first (it holds files on the mount), then the mount, then the folder.
  for (const pid of box?.pids ?? []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const dir of mounts.splice(0)) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  await box?.cleanup();
  box = undefined;
});

async function startRun(client: OrcClient): Promise<string> {
  const tasks = randomDag(7, SIZE, { maxDeps: 3, window: 64 });
  const run = await client.trpc.runs.start.mutate({ tasks, config: FAST, source: 'full disk' });
  return run.id;
}

const summaryOf = async (client: OrcClient, runId: string): Promise<RunSummary> =>
  (await client.trpc.runs.list.query()).find((run) => run.id === runId)!;

const pausedForStorage = (run: RunSummary) => run.status === 'paused' && run.pauseReason === 'storage';

/** Every task done exactly once, and the ids one after another. */
function expectWholeJournal(events: OrcEvent[]): void {
  const done = events.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : []));
  expect(done.length).toBe(SIZE);
  expect(new Set(done).size).toBe(SIZE);
  expect(events.every((e, i) => e.id === i + 1)).toBe(true);
}

/** What a paused run's daemon tells a person, through the CLI and the health call. */
async function expectToldWhy(sandbox: Sandbox, client: OrcClient, runId: string, why: RegExp) {
  const started = Date.now();
  const health = await client.trpc.daemon.health.query();
  const healthMs = Date.now() - started;
  expect(health.storage).toEqual({ ok: false, error: expect.stringMatching(why) as string });
  // The daemon's own answer comes at once; the CLI's figure includes starting node.
  expect(healthMs).toBeLessThan(1000);
  const ls = await sandbox.orc(['ls'], { timeoutMs: 10_000 });
  expect(ls.code).toBe(0);
  expect(ls.stdout).toContain('paused (storage)');
  expect(ls.stdout).toMatch(why);
  const show = await sandbox.orc(['show', runId], { timeoutMs: 10_000 });
  expect(show.stdout.split('\n')[0]).toContain('paused (storage)');
  expect(show.stdout).toMatch(/^paused: .*: cannot write /m);
  const doctor = await sandbox.orc(['doctor', '--json'], { timeoutMs: 10_000 });
  const checks = (JSON.parse(doctor.stdout) as { checks: { name: string; status: string; detail: string }[] })
    .checks;
  expect(checks.find((check) => check.name === 'storage')).toMatchObject({ status: 'fail' });
}

/** What a client is told is done is what the journal holds. */
async function expectDoneOnDisk(sandbox: Sandbox, client: OrcClient, runId: string): Promise<number> {
  const summary = await summaryOf(client, runId);
  const onDisk = (await readJournal(sandbox.home, runId)).filter((e) => e.type === 'task.completed').length;
  expect(summary.taskCounts['done'] ?? 0).toBe(onDisk);
  expect(onDisk).toBeGreaterThan(0);
  expect(onDisk).toBeLessThan(SIZE);
  return onDisk;
}

describe.skipIf(cannotMount !== undefined)(
  `a full state directory${cannotMount ? ` (skipped: ${cannotMount})` : ''}`,
  () => {
    it('on a 30 MB tmpfs: every run pauses for storage and says why, then goes on by itself once there is room', async () => {
      box = await Sandbox.create();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=30m,mode=0700', 'tmpfs', box.home]);
      mounts.push(box.home);
      await box.startDaemon();
      const client = await box.client();
      const runId = await startRun(client);
      await waitFor(
        async () => (pausedForStorage(await summaryOf(client, runId)) ? true : undefined),
        120_000,
      );

      await expectToldWhy(box, client, runId, /^ *no space left on the device \(ENOSPC\): cannot write /m);
      const doneWhileFull = await expectDoneOnDisk(box, client, runId);
      // Nothing moves while the disk is full.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await summaryOf(client, runId)).taskCounts['done']).toBe(doneWhileFull);

      execFileSync('mount', ['-o', 'remount,size=400m', box.home]);
      const finished = await waitFor(async () => {
        const summary = await summaryOf(client, runId);
        return summary.status === 'completed' ? summary : undefined;
      }, 240_000);
      expect(finished.taskCounts).toEqual({ done: SIZE });
      expectWholeJournal(await readJournal(box.home, runId));
    }, 400_000);

    it('under ulimit -f (EFBIG): the run pauses and says why, orc daemon stop works, and a restart finishes it without redoing work', async () => {
      box = await Sandbox.create();
      // 6 MB per file (512-byte blocks): the journal reaches it a quarter into the run.
      const child = spawn('sh', ['-c', 'ulimit -f 12288; exec "$0" "$1"', process.execPath, DAEMON], {
        env: box.env,
        detached: true,
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.unref();
      box.pids.add(child.pid!);
      await waitFor(() => box!.daemonPid());
      const client = await box.client();
      const runId = await startRun(client);
      await waitFor(
        async () => (pausedForStorage(await summaryOf(client, runId)) ? true : undefined),
        120_000,
      );
      await expectToldWhy(
        box,
        client,
        runId,
        /^ *file size limit reached \(ulimit -f\) \(EFBIG\): cannot write /m,
      );
      await expectDoneOnDisk(box, client, runId);
      const before = await readJournal(box.home, runId);
      const doneBefore = new Set(before.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : [])));

      const stopped = Date.now();
      const stop = await box.orc(['daemon', 'stop'], { timeoutMs: 30_000 });
      expect(stop.code, stop.stderr).toBe(0);
      // Within the daemon's grace period (10 s), whatever the disk does.
      expect(Date.now() - stopped).toBeLessThan(10_000);
      // This test is the daemon's parent: it has exited once the test hears so.
      await exited;
      expect(existsSync(join(box.home, 'daemon.json'))).toBe(false);

      await box.startDaemon();
      const again = await box.client();
      const finished = await waitFor(async () => {
        const summary = await summaryOf(again, runId);
        return summary.status === 'completed' ? summary : undefined;
      }, 240_000);
      expect(finished.taskCounts).toEqual({ done: SIZE });
      const events = await readJournal(box.home, runId);
      expectWholeJournal(events);
      // Nothing done before the stop was given to a worker again.
      const after = events.slice(before.length);
      expect(after.filter((e) => e.type === 'task.assigned' && doneBefore.has(e.taskId))).toEqual([]);
    }, 400_000);
  },
);
