import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OrcEvent } from '@orc/shared';
import { startTestRedis, type TestRedis } from '@orc/test-support';
import { startBenchDaemon, type BenchDaemon } from '../bench-daemon.js';
import type { CaseResult, Metric } from '../report.js';
import { doneCount, failedCount, percentile, waitForRun } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

/** The built `orc`, found from here both in the sources (vitest) and in `scripts/dist` (`npm run bench`). */
const CLI = join(
  repositoryRoot(fileURLToPath(new URL('.', import.meta.url))),
  'packages/tui/dist/cli/main.js',
);
/** Each worker process runs this many attempts at once. */
const CONCURRENCY = 4;
const PROCESSES = [1, 2, 4] as const;

/**
 * Throughput of the Redis backend with 1, 2 and 4 `orc worker` processes (4 attempts each) on a real
 * redis-server, against the local backend with as many workers as 4 processes have, on the simulated
 * model with latency (the same for attempts and reviews, wherever they run). The daemon allows 32
 * tasks in flight in every configuration, so the worker processes are the limit. Also measured: how much
 * longer an attempt takes from its start to its answer through Redis than in the daemon (p50).
 */
export async function scaleOutCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const size = ctx.quick ? 48 : 400;
  const latency = ctx.quick ? { min: 20, max: 40 } : { min: 100, max: 200 };
  // A daemon worker holds its task through the attempt and its review: twice the workers' slots keeps the
  // workers the limit (with 16, 4 processes ran no faster than 2: 33 tasks/s both).
  const runConfig = {
    execution: { max_workers: 2 * PROCESSES.at(-1)! * CONCURRENCY },
    simulated: { seed: 9, latency_ms: latency },
  };
  const tasks = Array.from({ length: size }, (_, i) => ({ id: `t${i + 1}`, title: `task ${i + 1}` }));
  const metrics: Metric[] = [];
  const notes: string[] = [];
  let done = 0;
  let failed = 0;
  let total = 0;

  const measure = async (daemon: BenchDaemon, label: string) => {
    const at = Date.now();
    const { id } = await daemon.client.trpc.runs.start.mutate({ tasks, config: runConfig, source: 'bench' });
    const summary = await waitForRun(daemon.client, id, {
      timeoutMs: ctx.quick ? 60_000 : 300_000,
      pollMs: 25,
    });
    const wallMs = Date.parse(summary.finishedAt ?? summary.updatedAt) - at;
    total += size;
    done += doneCount(summary);
    failed += failedCount(summary);
    metrics.push({ label: `throughput, ${label}`, value: size / (wallMs / 1000), unit: 'tasks/s' });
    ctx.log(`scale out: ${label}: ${size} tasks in ${wallMs} ms`);
    return attemptMs(daemon.home, id);
  };

  const local = await startBenchDaemon(daemonOptions(ctx));
  let localAttempt: number;
  try {
    localAttempt = percentile(
      await measure(local, `local backend, ${runConfig.execution.max_workers} workers`),
      50,
    );
  } finally {
    await local.dispose();
  }

  const redis: TestRedis = await startTestRedis();
  const workers: { child: ChildProcess; home: string }[] = [];
  const daemon = await startBenchDaemon({
    ...daemonOptions(ctx),
    config: { execution: { backend: 'redis' }, redis: { url: redis.url, stall_seconds: 5 } },
  });
  try {
    const throughput: number[] = [];
    let remoteAttempt = NaN;
    for (const count of PROCESSES) {
      while (workers.length < count) workers.push(await startWorker(redis.url, latency));
      const durations = await measure(
        daemon,
        `Redis, ${count} worker process${count === 1 ? '' : 'es'} × ${CONCURRENCY}`,
      );
      throughput.push(metrics.at(-1)!.value);
      if (count === PROCESSES.at(-1)) remoteAttempt = percentile(durations, 50);
    }
    metrics.push({ label: '4 worker processes ÷ 1', value: throughput.at(-1)! / throughput[0]!, unit: '×' });
    metrics.push({
      label: 'attempt start to answer, Redis − local, p50',
      value: Math.max(0, remoteAttempt - localAttempt),
      unit: 'ms',
    });
    notes.push(
      `simulated latency ${latency.min}–${latency.max} ms per call; attempt p50 ${Math.round(localAttempt)} ms local, ${Math.round(remoteAttempt)} ms through Redis`,
    );
  } finally {
    for (const worker of workers) {
      worker.child.kill('SIGTERM');
      rmSync(worker.home, { recursive: true, force: true });
    }
    await daemon.dispose();
    await redis.stop();
  }
  return {
    name: 'scale out',
    metrics,
    tasks: { total, done, failed },
    lost: 0,
    seconds: elapsedSince(started),
    notes,
  };
}

/** An `orc worker` in a home of its own, as on another machine; resolves once it took the queue. */
async function startWorker(
  url: string,
  latency: { min: number; max: number },
): Promise<{ child: ChildProcess; home: string }> {
  const home = mkdtempSync(join(tmpdir(), 'orc-bench-worker-'));
  writeFileSync(
    join(home, 'orc.config.json'),
    JSON.stringify({ models: { provider: 'simulated' }, simulated: { seed: 9, latency_ms: latency } }),
  );
  const child = spawn(
    process.execPath,
    [CLI, 'worker', '--redis', url, '--concurrency', String(CONCURRENCY)],
    {
      cwd: home,
      env: { PATH: process.env['PATH'], HOME: home, ORC_HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let said = '';
  await new Promise<void>((done, fail) => {
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('takes attempts from queue')) done();
    });
    child.once('exit', (code) => fail(new Error(`orc worker exited (${code}): ${said}`)));
  });
  return { child, home };
}

/** Each attempt's time from `task.assigned` to its answer (`task.worked`), from the run's journal. */
function attemptMs(home: string, runId: string): number[] {
  const began = new Map<string, number>();
  const durations: number[] = [];
  const text = readFileSync(join(home, 'runs', runId, 'events.jsonl'), 'utf8');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const event = JSON.parse(line) as OrcEvent;
    if (event.type === 'task.assigned') began.set(`${event.taskId}#${event.attempt}`, Date.parse(event.at));
    if (event.type === 'task.worked') {
      const start = began.get(`${event.taskId}#${event.attempt}`);
      if (start !== undefined) durations.push(Date.parse(event.at) - start);
    }
  }
  return durations;
}

function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'packages', 'tui', 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}
