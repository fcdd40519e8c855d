import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '@orc/test-support';
import { eventsUntilEnd, Sandbox, taskSpecs, waitFor } from './harness.js';
import {
  spawnRemoteWorker,
  doneCounts,
  WORKER_SIM,
  journalOf,
  startRemoteWorker,
  stopRemoteWorkers,
  type RemoteWorkerProcess,
} from './remote-workers.js';

/**
 * A daemon with `execution.backend: "redis"` and `orc worker` processes with homes of their own, on a
 * real redis-server: attempts run only on the workers, a worker killed mid-job has its jobs taken over,
 * and every task is done exactly once.
 */
let redis: TestRedis;
let sandbox: Sandbox;
const workers: RemoteWorkerProcess[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
  sandbox = await Sandbox.create();
});

afterEach(async () => {
  await stopRemoteWorkers(workers);
  await sandbox.cleanup();
  await redis.stop();
});

/** The daemon's config: attempts on Redis, a short stall interval, reviews on the simulated model. */
function daemonConfig(url: string, maxWorkers = 8) {
  return {
    models: { provider: 'simulated' },
    simulated: { latency_ms: { min: 0, max: 0 } },
    execution: { backend: 'redis', max_workers: maxWorkers },
    redis: { url, stall_seconds: 2 },
  };
}

async function doctorChecks(): Promise<{ name: string; status: string; detail: string }[]> {
  const doctor = await sandbox.orc(['doctor', '--json'], { timeoutMs: 20_000 });
  return (JSON.parse(doctor.stdout) as { checks: { name: string; status: string; detail: string }[] }).checks;
}

describe('the Redis backend', () => {
  it('runs 200 tasks on two workers, one killed mid-run, each task done exactly once', async () => {
    await sandbox.writeConfig(daemonConfig(redis.url));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    const keep = await startRemoteWorker(['--redis', redis.url, '--concurrency', '4'], undefined, workers);
    const doomed = await startRemoteWorker(['--redis', redis.url, '--concurrency', '4'], undefined, workers);

    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(200) });
    const ended = eventsUntilEnd(client, run.id);
    // Both are seen by the daemon, and the one to be killed holds jobs when it dies.
    const busy = await waitFor(async () => {
      const remote = await client.trpc.daemon.workers.query();
      const view = await client.trpc.runs.get.query({ runId: run.id });
      const done = view.tasks.filter((task) => task.status === 'done').length;
      const victim = remote?.workers.find((worker) => worker.pid === doomed.child.pid);
      return remote?.workers.length === 2 && done >= 20 && (victim?.running.length ?? 0) > 0
        ? victim!.running
        : undefined;
    }, 60_000);
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const events = await ended;
    expect(events.at(-1)?.type).toBe('run.completed');
    const journal = await journalOf(sandbox.home, run.id);
    const { completed, worked } = doneCounts(journal);
    expect(completed.size).toBe(200);
    expect([...completed.values()].every((count) => count === 1)).toBe(true);
    // No attempt's answer was taken twice, the killed worker's jobs included.
    expect([...worked.values()].every((count) => count === 1)).toBe(true);
    for (const job of busy) expect(completed.get(job.taskId)).toBe(1);
    const view = await client.trpc.runs.get.query({ runId: run.id });
    expect(view.tasks.every((task) => task.status === 'done')).toBe(true);
    // The worker that lived took over: it is the one connected now.
    const remote = await client.trpc.daemon.workers.query();
    expect(remote?.workers.map((worker) => worker.pid)).toEqual([keep.child.pid]);
    // orc doctor sees what the daemon sees: its Redis, and the worker left.
    const seen = await doctorChecks();
    expect(seen.find((check) => check.name === 'redis')).toMatchObject({ status: 'ok' });
    expect(seen.find((check) => check.name === 'workers')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^1 \(4 attempts at once\): /) as unknown,
    });
    // The daemon made no attempt itself: with no worker, a run waits.
    await stopRemoteWorkers(workers);
    const idle = await client.trpc.runs.start.mutate({ tasks: taskSpecs(2) });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const waiting = await client.trpc.runs.get.query({ runId: idle.id });
    expect(waiting.tasks.filter((task) => task.status === 'done')).toHaveLength(0);
    expect((await doctorChecks()).find((check) => check.name === 'workers')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('no orc worker serves') as unknown,
    });
  }, 180_000);

  it('goes on when Redis restarts mid-run, even one that kept nothing', async () => {
    await sandbox.writeConfig(daemonConfig(redis.url, 4));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    await startRemoteWorker(['--redis', redis.url, '--concurrency', '4'], undefined, workers);
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(40) });
    const ended = eventsUntilEnd(client, run.id);
    await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.tasks.filter((task) => task.status === 'done').length >= 8 ? true : undefined;
    }, 60_000);
    // Killed, down for a second, back empty: the queue, its jobs and the presences are gone.
    await redis.restart({ downMs: 1_000 });
    const events = await ended;
    expect(events.at(-1)?.type).toBe('run.completed');
    const { completed, worked } = doneCounts(await journalOf(sandbox.home, run.id));
    expect(completed.size).toBe(40);
    expect([...completed.values()].every((count) => count === 1)).toBe(true);
    expect([...worked.values()].every((count) => count === 1)).toBe(true);
    // Both sides are back on it: the daemon lists the worker again.
    const remote = await waitFor(async () => {
      const status = await client.trpc.daemon.workers.query();
      return status?.workers.length === 1 ? status : undefined;
    }, 20_000);
    expect(remote.reachable).toBe(true);
  }, 120_000);

  it('takes the answers workers finished while the daemon was down', async () => {
    await sandbox.writeConfig(daemonConfig(redis.url, 4));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    const slow = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 1_500, max: 2_000 } } };
    // ORC_DEBUG: the worker logs each answer it made, to count them.
    const worker = await startRemoteWorker(['--redis', redis.url, '--concurrency', '4'], slow, workers, {
      ORC_DEBUG: '1',
    });
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(8) });
    await waitFor(async () => {
      const remote = await client.trpc.daemon.workers.query();
      return (remote?.workers[0]?.running.length ?? 0) >= 2 ? true : undefined;
    }, 30_000);
    const pid = await sandbox.daemonPid();
    process.kill(pid!, 'SIGKILL');
    // The workers finish the jobs in hand meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await sandbox.startDaemon();
    const again = await sandbox.client();
    const view = await waitFor(async () => {
      const current = await again.trpc.runs.get.query({ runId: run.id });
      return current.status === 'completed' ? current : undefined;
    }, 60_000);
    expect(view.tasks.every((task) => task.status === 'done')).toBe(true);
    const { completed, worked } = doneCounts(await journalOf(sandbox.home, run.id));
    expect([...completed.values()].every((count) => count === 1)).toBe(true);
    // Every answer the worker made was taken, those of the attempts the crash cut off included: none
    // was made again. (A cut-off attempt the journal had not told yet is taken by its own id; one it
    // had told, by the next attempt, which says so in the daemon's log.)
    const answered = worker
      .said()
      .split('\n')
      .filter((line) => line.includes('"msg":"attempt answered"'));
    expect(answered.length).toBe([...worked.values()].reduce((sum, count) => sum + count, 0));
  }, 120_000);
});

describe('a run on the Redis backend without a worker', () => {
  it('says in orc show that no worker takes its attempts, and how to start one', async () => {
    await sandbox.writeConfig(daemonConfig(redis.url));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(1) });
    // Its attempt is a job nobody takes: the task shows running, and the run says why nothing moves.
    const shown = await waitFor(async () => {
      const text = (await sandbox.orc(['show', run.id])).stdout;
      return / running /.test(text) ? text : undefined;
    });
    expect(shown).toContain(
      `workers: none on ${redis.url} (queue ${(await client.trpc.daemon.workers.query())!.queue}); start one with orc worker --redis ${redis.url}`,
    );
    await startRemoteWorker(['--redis', redis.url, '--concurrency', '1'], undefined, workers);
    const done = await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.status === 'completed' ? view : undefined;
    });
    expect(done.status).toBe('completed');
    expect((await sandbox.orc(['show', run.id])).stdout).not.toContain('workers:');
  }, 60_000);
});

/** Every file under `dir`, with its text. */
async function filesUnder(dir: string): Promise<{ file: string; text: string }[]> {
  const found: { file: string; text: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    found.push({ file, text: await readFile(file, 'utf8').catch(() => '') });
  }
  return found;
}

describe('a run restored by a daemon whose config went back to the local backend', () => {
  it('goes on on the Redis it was started with, kept without its password, which the daemon does not call its own', async () => {
    const password = 'pw-of-the-queue-9d2f';
    const locked = await startTestRedis({ password });
    try {
      const withPassword = locked.url.replace('redis://', `redis://:${password}@`);
      await sandbox.writeConfig(daemonConfig(withPassword, 2));
      await sandbox.startDaemon();
      const client = await sandbox.client();
      // No worker yet: its attempts wait as jobs on that server.
      const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(3) });
      await waitFor(async () => {
        const view = await client.trpc.runs.get.query({ runId: run.id });
        return view.tasks.some((task) => task.status === 'running') ? true : undefined;
      });
      expect((await client.trpc.daemon.workers.query())?.url).toBe(
        locked.url.replace('redis://', 'redis://:***@'),
      );
      expect((await sandbox.orc(['daemon', 'stop'])).code).toBe(0);
      // The run keeps its server's URL, never the password in it.
      const kept = await filesUnder(sandbox.home);
      expect(kept.filter(({ text }) => text.includes(password)).map(({ file }) => file)).toEqual([
        join(sandbox.home, 'orc.config.json'),
      ]);
      expect(kept.some(({ text }) => text.includes(locked.url))).toBe(true);

      // The daemon's own config goes back to local; the password comes from the environment now.
      await sandbox.writeConfig({
        models: { provider: 'simulated' },
        simulated: { latency_ms: { min: 0, max: 0 } },
      });
      await sandbox.startDaemon({ ORC_REDIS_PASSWORD: password });
      const again = await sandbox.client();
      await startRemoteWorker(['--redis', withPassword, '--concurrency', '2'], undefined, workers);
      const done = await waitFor(async () => {
        const view = await again.trpc.runs.get.query({ runId: run.id });
        return view.status === 'completed' ? view : undefined;
      }, 60_000);
      expect(done.tasks.every((task) => task.status === 'done')).toBe(true);
      // The daemon's backend is local: no Redis of its own to reach, whatever its restored run used.
      expect(await again.trpc.daemon.workers.query()).toBeNull();
      expect((await doctorChecks()).find((check) => check.name === 'redis')).toBeUndefined();
      const ls = await sandbox.orc(['ls']);
      expect(ls.stdout).not.toContain('Redis');
      expect(ls.stdout).not.toContain('6379');
    } finally {
      await stopRemoteWorkers(workers);
      await locked.stop();
    }
  }, 120_000);
});

describe('orc worker on the daemon’s machine', () => {
  it('takes its Redis from $ORC_HOME/orc.config.json, says so, and --redis wins', async () => {
    await sandbox.writeConfig(daemonConfig(redis.url, 2));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    // Run from another directory, with no --redis: the state directory's file is the daemon's.
    const elsewhere = await mkdtemp(join(tmpdir(), 'orc-worker-cwd-'));
    try {
      const worker = await startRemoteWorker(
        ['--concurrency', '2'],
        { ...WORKER_SIM, redis: { url: redis.url } },
        workers,
        {},
        elsewhere,
      );
      const started = worker
        .said()
        .split('\n')
        .find((line) => line.includes('takes attempts from queue'));
      expect(started).toContain(
        `on ${redis.url} (from redis.url in ${join(worker.home, 'orc.config.json')}) (concurrency 2)`,
      );
      const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(2) });
      const done = await waitFor(async () => {
        const view = await client.trpc.runs.get.query({ runId: run.id });
        return view.status === 'completed' ? view : undefined;
      }, 30_000);
      expect(done.tasks.every((task) => task.status === 'done')).toBe(true);
      // A flag is the user's word for this one start.
      const flagged = await startRemoteWorker(
        ['--redis', redis.url],
        { ...WORKER_SIM, redis: { url: 'redis://127.0.0.1:1' } },
        workers,
        {},
        elsewhere,
      );
      expect(flagged.said()).toContain(`on ${redis.url} (from --redis)`);
      // Nowhere set: the default, and where to set it, in the one line of the failure.
      const lost = await spawnRemoteWorker([], WORKER_SIM, workers, {}, elsewhere);
      expect(await lost.exited).toBe(5);
      expect(lost.said().trim().split('\n')).toEqual([
        expect.stringMatching(
          /^orc: cannot reach Redis at redis:\/\/127\.0\.0\.1:6379 \(.+\); start it.* \(from the default: set redis\.url in .+orc\.config\.json or pass --redis\)$/,
        ),
      ]);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('an attempt the daemon gave up on while Redis was away', () => {
  it('stops on its worker once Redis is back, and does not run beside the next attempt', async () => {
    // A server that keeps the job across the outage, and a lock that outlasts it: the job is still
    // the worker's when Redis is back, so only the daemon's take-back can stop it.
    await redis.stop();
    redis = await startTestRedis({ persistence: true });
    await sandbox.writeConfig({
      ...daemonConfig(redis.url, 1),
      redis: { url: redis.url, stall_seconds: 60 },
    });
    await sandbox.startDaemon();
    const client = await sandbox.client();
    // Calls long enough to outlive the outage.
    const slow = {
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 40_000, max: 40_000 } },
    };
    const worker = await startRemoteWorker(['--redis', redis.url, '--concurrency', '2'], slow, workers, {
      ORC_DEBUG: '1',
    });
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(1) });
    await waitFor(async () => {
      const remote = await client.trpc.daemon.workers.query();
      return remote?.workers[0]?.running.some((job) => job.attempt === 1) ? true : undefined;
    }, 30_000);
    await redis.kill();
    await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.status === 'paused' ? true : undefined;
    }, 30_000);
    await redis.restart();
    // The run goes on with attempt 2; attempt 1, given up, is stopped at the worker instead of being paid for.
    const running = await waitFor(async () => {
      const remote = await client.trpc.daemon.workers.query();
      const jobs = remote?.workers[0]?.running ?? [];
      return jobs.length === 1 && jobs[0]!.attempt === 2 ? jobs : undefined;
    }, 20_000);
    expect(running).toEqual([expect.objectContaining({ runId: run.id, taskId: 't1', attempt: 2 })]);
    expect(worker.said()).toContain('the daemon took this attempt back; stopping it');
  }, 120_000);
});

describe('an unreachable Redis', () => {
  it('makes orc worker exit 5 with one line', async () => {
    await redis.kill();
    const worker = await spawnRemoteWorker(['--redis', redis.url], undefined, workers);
    expect(await worker.exited).toBe(5);
    const lines = worker.said().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^orc: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); start it/,
    );
  });

  it('pauses the runs of the daemon with the reason, and they go on once it answers', async () => {
    await redis.kill();
    await sandbox.writeConfig(daemonConfig(redis.url, 2));
    await sandbox.startDaemon();
    const client = await sandbox.client();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(4) });
    const paused = await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.status === 'paused' ? view : undefined;
    }, 30_000);
    expect(paused.pauseReason).toBe('backend');
    expect(paused.pauseMessage).toContain('cannot be reached');
    const inbox = await client.trpc.inbox.list.query();
    expect(inbox.items.some((item) => item.type === 'backend' && item.runId === run.id)).toBe(true);
    const ls = await sandbox.orc(['ls']);
    expect(ls.stdout).toContain('cannot be reached; runs wait for it');
    // orc show says what the run waits for, and that nobody need do anything once the server is back.
    const shown = (await sandbox.orc(['show', run.id])).stdout;
    expect(shown).toContain(
      `paused: Redis at ${redis.url} cannot be reached; the run goes on by itself once it answers (start the server, or check its address, password and TLS)`,
    );
    // Still waiting: told in the present.
    expect(shown).toMatch(
      /\nwaiting for Redis: the run has stood still (\d+(\.\d)?s|<0\.1s) so far, while its server cannot be reached\n/,
    );
    expect(shown).not.toContain('for a person');
    // Nothing failed for it.
    expect(paused.tasks.some((task) => task.status === 'failed')).toBe(false);

    await redis.restart();
    await startRemoteWorker(['--redis', redis.url], undefined, workers);
    const done = await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.status === 'completed' ? view : undefined;
    }, 60_000);
    expect(done.tasks.every((task) => task.status === 'done')).toBe(true);
  }, 120_000);
});
