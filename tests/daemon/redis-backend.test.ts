import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '@orc/test-support';
import { eventsUntilEnd, Sandbox, taskSpecs, waitFor } from './harness.js';
import {
  doneCounts,
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
    // The daemon made no attempt itself: with no worker, a run waits.
    await stopRemoteWorkers(workers);
    const idle = await client.trpc.runs.start.mutate({ tasks: taskSpecs(2) });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const waiting = await client.trpc.runs.get.query({ runId: idle.id });
    expect(waiting.tasks.filter((task) => task.status === 'done')).toHaveLength(0);
  }, 180_000);
});
