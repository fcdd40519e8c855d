import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrcEvent } from '@orc/shared';
import { CLI } from './harness.js';

/** An `orc worker` process with a home and a config of its own, as on another machine. */
export interface RemoteWorkerProcess {
  readonly child: ChildProcess;
  readonly home: string;
  /** Everything it wrote on stderr. */
  said(): string;
  /** Resolves with its exit code. */
  readonly exited: Promise<number | null>;
}

/** The simulated model on a worker: latency so a worker can be killed mid-job. */
export const WORKER_SIM = {
  models: { provider: 'simulated' as const },
  simulated: { latency_ms: { min: 80, max: 160 } },
};

/** Starts `orc worker` in a home of its own and waits until it took a queue. */
export async function startRemoteWorker(
  args: string[],
  config: unknown = WORKER_SIM,
  started: RemoteWorkerProcess[] = [],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<RemoteWorkerProcess> {
  const worker = await spawnRemoteWorker(args, config, started, env, cwd);
  const deadline = Date.now() + 20_000;
  while (!worker.said().includes('takes attempts from queue')) {
    if (worker.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`orc worker did not start: ${worker.said()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return worker;
}

/** Spawns `orc worker` without waiting for anything (for a worker that should fail). */
export async function spawnRemoteWorker(
  args: string[],
  config: unknown = WORKER_SIM,
  started: RemoteWorkerProcess[] = [],
  env: NodeJS.ProcessEnv = {},
  /** Where it runs (default: its home, whose orc.config.json it then reads as ./orc.config.json too). */
  cwd?: string,
): Promise<RemoteWorkerProcess> {
  const home = await mkdtemp(join(tmpdir(), 'orc-worker-'));
  await writeFile(join(home, 'orc.config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [CLI, 'worker', ...args], {
    cwd: cwd ?? home,
    env: {
      PATH: process.env['PATH'],
      HOME: home,
      ORC_HOME: home,
      XDG_CONFIG_HOME: join(home, 'xdg'),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const worker = { child, home, said: () => stderr, exited };
  started.push(worker);
  return worker;
}

/** Kills every worker and removes its home. */
export async function stopRemoteWorkers(workers: RemoteWorkerProcess[]): Promise<void> {
  for (const worker of workers) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
    await rm(worker.home, { recursive: true, force: true });
  }
  workers.length = 0;
}

/** The run's journal as the daemon wrote it. */
export async function journalOf(home: string, runId: string): Promise<OrcEvent[]> {
  const text = await readFile(join(home, 'runs', runId, 'events.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as OrcEvent);
}

/** How many times the journal tells each task completed, and each attempt worked. */
export function doneCounts(events: readonly OrcEvent[]): {
  completed: Map<string, number>;
  worked: Map<string, number>;
} {
  const completed = new Map<string, number>();
  const worked = new Map<string, number>();
  for (const event of events) {
    if (event.type === 'task.completed') completed.set(event.taskId, (completed.get(event.taskId) ?? 0) + 1);
    if (event.type === 'task.worked') {
      const key = `${event.taskId}#${event.attempt}`;
      worked.set(key, (worked.get(key) ?? 0) + 1);
    }
  }
  return { completed, worked };
}
