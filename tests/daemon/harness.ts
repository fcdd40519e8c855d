import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient, type OrcClient, startDaemon } from '@orc/daemon/client';
import type { OrcEvent, RunSummary } from '@orc/shared';
import { killOrphanedProcesses } from '@orc/test-support';

/** The repository root (tests run from it) and the built entry points the tests spawn. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'packages', 'tui', 'dist', 'cli', 'main.js');
export const DAEMON = join(ROOT, 'packages', 'daemon', 'dist', 'daemon', 'main.js');

/** Config for quick simulated runs: real latency so a run can be interrupted, short enough for a test. */
export const FAST_SIM = {
  models: { provider: 'simulated' as const },
  simulated: { latency_ms: { min: 20, max: 60 } },
};

/** A temp state dir plus everything started in it; `cleanup()` kills every daemon and removes it. */
export class Sandbox {
  readonly pids = new Set<number>();
  readonly clients: OrcClient[] = [];
  private constructor(
    readonly home: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(extraEnv: NodeJS.ProcessEnv = {}): Promise<Sandbox> {
    const home = await mkdtemp(join(tmpdir(), 'orc-e2e-'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: home,
      ORC_HOME: home,
      XDG_CONFIG_HOME: join(home, 'xdg-config'),
      ...extraEnv,
    };
    return new Sandbox(home, env);
  }

  async startDaemon(extraEnv: NodeJS.ProcessEnv = {}) {
    const info = await startDaemon({ home: this.home, env: { ...this.env, ...extraEnv }, entry: DAEMON });
    this.pids.add(info.pid);
    return info;
  }

  async client(): Promise<OrcClient> {
    const client = await createClient({ home: this.home, env: this.env });
    this.clients.push(client);
    return client;
  }

  /** Runs the built `orc` with this sandbox's env; never throws, returns what a user would see. */
  orc(
    args: string[],
    options: { cwd?: string; timeoutMs?: number } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        { cwd: options.cwd ?? this.home, env: this.env, timeout: options.timeoutMs ?? 30_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          done({ code, stdout, stderr });
        },
      );
    });
  }

  async daemonPid(): Promise<number | undefined> {
    try {
      const info = JSON.parse(await readFile(join(this.home, 'daemon.json'), 'utf8')) as { pid: number };
      this.pids.add(info.pid);
      return info.pid;
    } catch {
      return undefined;
    }
  }

  async writeConfig(config: unknown): Promise<void> {
    await writeFile(join(this.home, 'orc.config.json'), JSON.stringify(config));
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close().catch(() => undefined)));
    await this.daemonPid();
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(this.home, { recursive: true, force: true });
    // A daemon started while this ran (by a test body past its timeout) wrote no daemon.json we read.
    await killOrphanedProcesses();
  }
}

/** Collects a run's events from `afterId` until the run ends (completed, failed or cancelled). */
export function eventsUntilEnd(client: OrcClient, runId: string, afterId = 0): Promise<OrcEvent[]> {
  const events: OrcEvent[] = [];
  return new Promise((resolvePromise, reject) => {
    const sub = client.trpc.runs.events.subscribe(
      { runId, lastEventId: afterId > 0 ? String(afterId) : null },
      {
        onData: ({ data }) => {
          events.push(data);
          if (data.type === 'run.completed' || data.type === 'run.failed' || data.type === 'run.cancelled') {
            sub.unsubscribe();
            resolvePromise(events);
          }
        },
        onError: reject,
      },
    );
  });
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting');
}

export function taskSpecs(n: number, chain = false) {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${i + 1}`,
    title: `task ${i + 1}`,
    dependencies: chain && i > 0 ? [`t${i}`] : [],
  }));
}

export type { RunSummary };
