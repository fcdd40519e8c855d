import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, ERROR_CODES, OrcError, resolveStateDir, statePaths } from '@orc/shared';
import {
  type DaemonInfo,
  ensureStateDir,
  isProcessAlive,
  readDaemonInfo,
  removeDaemonInfo,
} from '../daemon/daemon-info.js';
import { createClient } from './create-client.js';

export interface DaemonControlOptions {
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** The daemon's entry script; defaults to the built `dist/daemon/main.js` of this package. */
  entry?: string;
  /** How long to wait for the daemon to start answering, or to exit when stopped. */
  timeoutMs?: number;
}

export type DaemonStatus =
  { running: true; home: string; info: DaemonInfo } | { running: false; home: string; stale?: DaemonInfo };

/** The message the daemon sends its starter over IPC once it accepts connections, or fails to. */
export type DaemonStartupMessage =
  { type: 'ready'; info: DaemonInfo } | { type: 'failed'; code: ErrorCode | undefined; message: string };

/** Whether a daemon answers for the state dir; a `daemon.json` whose daemon is gone is reported as stale. */
export async function daemonStatus(options: DaemonControlOptions = {}): Promise<DaemonStatus> {
  const env = options.env ?? process.env;
  const home = options.home ?? resolveStateDir(env);
  const info = readDaemonInfo(statePaths(home));
  if (info === undefined) return { running: false, home };
  if (!isProcessAlive(info.pid)) return { running: false, home, stale: info };
  try {
    const client = await createClient({ home, env, connectTimeoutMs: options.timeoutMs ?? 3_000 });
    await client.close();
    return { running: true, home, info: client.info };
  } catch (error) {
    if (error instanceof OrcError && error.code === 'DAEMON_NOT_RUNNING')
      return { running: false, home, stale: info };
    throw error;
  }
}

/**
 * Starts a daemon for the state dir, detached from this process, and resolves once it accepts
 * connections. Throws DAEMON_ALREADY_RUNNING (naming its pid and port) when one is running.
 */
export async function startDaemon(options: DaemonControlOptions = {}): Promise<DaemonInfo> {
  const env = options.env ?? process.env;
  const home = options.home ?? resolveStateDir(env);
  const paths = statePaths(home);
  ensureStateDir(paths);
  const log = openSync(paths.log, 'a', 0o600);
  try {
    // stderr goes to daemon.log: a crash before the logger is up still leaves its trace there.
    // --expose-gc: the daemon collects once it lets a large finished run go (see RunRegistry).
    const child = spawn(process.execPath, ['--expose-gc', options.entry ?? daemonEntry()], {
      cwd: home,
      env: { ...env, ORC_HOME: home },
      detached: true,
      stdio: ['ignore', 'ignore', log, 'ipc'],
    });
    const message = await new Promise<DaemonStartupMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new OrcError(
            'DAEMON_NOT_RUNNING',
            `the daemon did not start within ${timeoutOf(options)} ms; see ${paths.log}`,
          ),
        );
      }, timeoutOf(options));
      child.once('message', (value) => {
        clearTimeout(timer);
        resolve(value as DaemonStartupMessage);
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({
          type: 'failed',
          code: undefined,
          message: `the daemon exited at start (${signal ?? `code ${code}`}); see ${paths.log}`,
        });
      });
    });
    if (child.connected) child.disconnect();
    child.unref();
    if (message.type === 'failed') {
      const code =
        message.code !== undefined && ERROR_CODES.includes(message.code)
          ? message.code
          : 'DAEMON_NOT_RUNNING';
      throw new OrcError(code, message.message);
    }
    return message.info;
  } finally {
    closeSync(log);
  }
}

/**
 * Starts the daemon unless one answers already (a daemon another process is starting counts).
 * `onStarted` hears of a daemon this call started, with the one found dead in its place, if any.
 */
export async function ensureDaemon(
  options: DaemonControlOptions & { onStarted?: (info: DaemonInfo, dead?: DaemonInfo) => void } = {},
): Promise<DaemonInfo> {
  const status = await daemonStatus(options);
  if (status.running) return status.info;
  try {
    const info = await startDaemon(options);
    options.onStarted?.(info, status.stale);
    return info;
  } catch (error) {
    if (!(error instanceof OrcError && error.code === 'DAEMON_ALREADY_RUNNING')) throw error;
    // Another starter won the race: wait for its daemon to answer.
    const deadline = Date.now() + timeoutOf(options);
    while (Date.now() < deadline) {
      const again = await daemonStatus(options);
      if (again.running) return again.info;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw error;
  }
}

/** What the daemon said when asked to stop: the runs with work under way, and how long it gets. */
export interface DaemonStopping {
  underWay: number;
  graceMs?: number;
}

/**
 * Asks the daemon to stop and waits until its process is gone. Resolves with the stopped daemon's
 * info, or undefined when none was running (a stale `daemon.json` is removed). `onStopping` hears at
 * once what the daemon waits for, before the wait.
 */
export async function stopDaemon(
  options: DaemonControlOptions & { onStopping?: (stopping: DaemonStopping) => void } = {},
): Promise<DaemonInfo | undefined> {
  const env = options.env ?? process.env;
  const home = options.home ?? resolveStateDir(env);
  const status = await daemonStatus({ ...options, home });
  if (!status.running) {
    if (status.stale) removeDaemonInfo(statePaths(home), status.stale.pid);
    return undefined;
  }
  const { pid } = status.info;
  let reply: DaemonStopping | undefined;
  try {
    const client = await createClient({ home, env });
    reply = await client.trpc.daemon.stop.mutate().catch(() => undefined);
    await client.close();
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  if (reply !== undefined) options.onStopping?.(reply);
  const deadline = Date.now() + timeoutOf(options, 30_000);
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) {
      throw new OrcError(
        'INVALID_STATE',
        `the daemon (pid ${pid}) is still stopping; wait, or kill -9 ${pid}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return status.info;
}

function timeoutOf(options: DaemonControlOptions, fallback = 15_000): number {
  return options.timeoutMs ?? fallback;
}

/** `dist/daemon/main.js` next to this module; from sources (tests), the built copy of it. */
function daemonEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return join(dirname(here), '..', '..', 'dist', 'daemon', 'main.js');
  return join(dirname(here), '..', 'daemon', 'main.js');
}
