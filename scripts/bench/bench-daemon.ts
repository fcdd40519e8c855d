import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, startDaemon, stopDaemon, type OrcClient } from '@orc/daemon/client';

/**
 * A real daemon for one benchmark case: its own state directory (`ORC_HOME` in a temp dir, persistence
 * on), started as `orc daemon start` starts it, with a typed client on it. Everything it starts is
 * stopped by `dispose()`, which never throws.
 */
export interface BenchDaemon {
  readonly home: string;
  readonly pid: number;
  readonly client: OrcClient;
  /** Peak resident set of the daemon process so far (VmHWM), in bytes. */
  peakRss(): number;
  /** Resident set of the daemon process now (VmRSS), in bytes. */
  rss(): number;
  /** The daemon's I/O counters from /proc/<pid>/io. */
  io(): ProcIo;
  /** CPU time the daemon has used (user + system), in ms, from /proc/<pid>/stat. */
  cpuMs(): number;
  /** A second client, as another script or terminal would open. */
  connect(): Promise<OrcClient>;
  /** `kill -9` the daemon; its client is closed. */
  kill(): Promise<void>;
  /** Stops the daemon as `orc daemon stop` does and waits for its process to end; its client is closed. */
  stop(): Promise<void>;
  /** Starts the daemon again on the same state directory; resolves with the new client. */
  restart(): Promise<OrcClient>;
  /** Bytes of every file under `runs/<runId>/` (state, events, checkpoints). */
  runDirBytes(runId: string): number;
  dispose(): Promise<void>;
}

export interface ProcIo {
  /** Bytes handed to write-like syscalls (files, and a little socket traffic). */
  wchar: number;
  /** Write-like syscalls. */
  syscw: number;
  /** Bytes the process caused to be sent to the block device. */
  writeBytes: number;
}

export interface BenchDaemonOptions {
  /** Extra environment for the daemon (an API key for the rate-limit case). */
  env?: Record<string, string>;
  /** Keep the state directory after dispose (for looking at it). */
  keep?: boolean;
  /** Run the daemon under `node --cpu-prof`, writing its profile here when it exits. */
  profileDir?: string;
  /** The daemon's own `orc.config.json` (the execution backend, its Redis server). */
  config?: unknown;
}

const STOP_TIMEOUT_MS = 15_000;
const PROFILED_ENTRY = fileURLToPath(new URL('./profiled-daemon.js', import.meta.url));

export async function startBenchDaemon(options: BenchDaemonOptions = {}): Promise<BenchDaemon> {
  const home = mkdtempSync(join(tmpdir(), 'orc-bench-'));
  if (options.profileDir !== undefined) mkdirSync(options.profileDir, { recursive: true });
  if (options.config !== undefined)
    writeFileSync(join(home, 'orc.config.json'), JSON.stringify(options.config), { mode: 0o600 });
  const env = daemonEnv(home, {
    ...options.env,
    ...(options.profileDir !== undefined && { ORC_BENCH_PROFILE_DIR: options.profileDir }),
  });
  let pid = 0;
  let client: OrcClient | undefined;
  const extraClients = new Set<OrcClient>();

  const start = async (): Promise<OrcClient> => {
    const info = await startDaemon({
      home,
      env,
      timeoutMs: 30_000,
      ...(options.profileDir !== undefined && { entry: PROFILED_ENTRY }),
    });
    pid = info.pid;
    client = await createClient({ home, env, connectTimeoutMs: 10_000 });
    return client;
  };

  const closeClients = async (): Promise<void> => {
    const all = [...extraClients, ...(client ? [client] : [])];
    extraClients.clear();
    client = undefined;
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  };

  try {
    await start();
  } catch (error) {
    if (pid > 0) killQuietly(pid);
    if (!options.keep) rmSync(home, { recursive: true, force: true });
    throw error;
  }

  return {
    home,
    get pid() {
      return pid;
    },
    get client() {
      if (!client) throw new Error('the benchmark daemon has no client (killed and not restarted)');
      return client;
    },
    peakRss: () => statusField(pid, 'VmHWM') * 1024,
    rss: () => statusField(pid, 'VmRSS') * 1024,
    io: () => procIo(pid),
    cpuMs: () => procCpuMs(pid),
    async connect() {
      const extra = await createClient({ home, env, connectTimeoutMs: 10_000 });
      extraClients.add(extra);
      return extra;
    },
    async kill() {
      killQuietly(pid);
      await waitForExit(pid);
      await closeClients();
    },
    async stop() {
      await closeClients();
      await stopDaemon({ home, env, timeoutMs: STOP_TIMEOUT_MS });
      await waitForExit(pid);
    },
    restart: start,
    runDirBytes: (runId) => dirBytes(join(home, 'runs', runId)),
    async dispose() {
      await closeClients();
      try {
        await stopDaemon({ home, env, timeoutMs: STOP_TIMEOUT_MS });
      } catch {
        // A daemon that will not stop is killed: a benchmark leaves nothing running.
      }
      if (pid > 0 && alive(pid)) {
        killQuietly(pid);
        await waitForExit(pid);
      }
      if (!options.keep) rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * The daemon sees only what a benchmark controls: the temp state dir, no user config, no key or base URL
 * or `ORC_*` setting from the caller's shell, and no NODE_ENV=test from vitest.
 */
function daemonEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ORC_') || key.startsWith('ANTHROPIC_') || key === 'NODE_ENV') continue;
    if (key === 'NODE_OPTIONS' || key === 'VITEST' || key.startsWith('VITEST_')) continue;
    env[key] = value;
  }
  return { ...env, ORC_HOME: home, XDG_CONFIG_HOME: join(home, 'config'), ...extra };
}

function statusField(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]);
}

function procIo(pid: number): ProcIo {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { wchar: field('wchar'), syscw: field('syscw'), writeBytes: field('write_bytes') };
}

/** CPU time a process has used, in ms: utime + stime (fields 14 and 15 of /proc/<pid>/stat). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size;
  }
  return total;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function waitForExit(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
