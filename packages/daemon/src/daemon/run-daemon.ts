import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type LoadedConfig, OrcError, statePaths } from '@orc/shared';
import type pino from 'pino';
import type { MetricsServer } from '../metrics/metrics-server.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import type { ConnectionLimits } from '../rpc/connection-guard.js';
import type { RpcServer } from '../rpc/server.js';
import {
  type DaemonInfo,
  ensureStateDir,
  readDaemonInfo,
  readOrCreateToken,
  removeDaemonInfo,
  writeDaemonInfo,
} from './daemon-info.js';
import { keepAliveMark, readAliveMark } from './alive-mark.js';
import { acquireInstanceLock } from './instance-lock.js';
import { createDaemonLogger } from './logger.js';

export type OpenOrchestrator = (options: {
  home: string;
  loaded: LoadedConfig;
  /** The configuration as its files are now, read for each new run. */
  reloadConfig: () => LoadedConfig;
  logger: pino.Logger;
  /** The metrics include the process's own (CPU, memory, event-loop delay). */
  processMetrics: boolean;
  /** Until when the daemon before this one was alive, when it did not stop cleanly (`alive-mark.ts`). */
  aliveUntil?: number;
}) => Promise<Orchestrator>;

export interface RunDaemonOptions {
  home: string;
  env?: NodeJS.ProcessEnv;
  openOrchestrator: OpenOrchestrator;
  /** How long in-flight model calls may finish on stop before they are aborted. */
  graceMs?: number;
  /** Bounds of each client connection; `RPC_LIMITS` unless a test narrows them. */
  rpcLimits?: Partial<ConnectionLimits>;
}

export interface RunningDaemon {
  info: DaemonInfo;
  logger: pino.Logger;
  /**
   * Stops dispatch, lets in-flight work finish within the grace period, persists, removes daemon.json.
   * Clients are told the daemon was stopped on purpose (they do not start it again) unless it `crashed`.
   */
  stop(reason: string, how?: { crashed?: boolean }): Promise<void>;
  /** Resolves once the daemon has stopped, whoever asked (a signal, or the daemon.stop procedure). */
  stopped: Promise<void>;
}

/** How long past its grace period the engine may take to save before the daemon stops without it. */
const CLOSE_MARGIN_MS = 5_000;

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/**
 * The daemon of one state directory: takes the instance lock, opens the engine, serves it on 127.0.0.1,
 * and only then writes `daemon.json`, so a client that finds the file can connect.
 */
export async function runDaemon(options: RunDaemonOptions): Promise<RunningDaemon> {
  const paths = statePaths(options.home);
  ensureStateDir(paths);
  const locked = acquireInstanceLock(paths.lock);
  if (!locked.ok) {
    const running = readDaemonInfo(paths);
    const where =
      running && running.pid === locked.holderPid
        ? `pid ${running.pid}, port ${running.port}`
        : `pid ${locked.holderPid}, starting or stopping`;
    throw new OrcError(
      'DAEMON_ALREADY_RUNNING',
      `a daemon is already running for ${options.home} (${where}); use it, or stop it with orc daemon stop`,
    );
  }
  const lock = locked.lock;
  // We hold the lock, so any daemon.json here was left by a daemon that died.
  removeDaemonInfo(paths, readDaemonInfo(paths)?.pid ?? 0);

  let loaded: LoadedConfig;
  let token: string;
  try {
    token = readOrCreateToken(paths);
    loaded = loadConfig({ cwd: options.home, env: options.env ?? process.env });
  } catch (error) {
    lock.release();
    throw error;
  }
  const { logger: root, flush } = createDaemonLogger({
    file: paths.log,
    level: loaded.config.monitoring.verbose_logging ? 'debug' : 'info',
    // A webhook's URL is its password: never in the log, whatever carries it there.
    secrets: () => [
      token,
      ...(loaded.apiKey ? [loaded.apiKey] : []),
      ...(loaded.config.notifications.webhook ? [loaded.config.notifications.webhook] : []),
    ],
  });
  const logger = root.child({ component: 'daemon' });
  const startedAt = new Date().toISOString();

  let orchestrator: Orchestrator | undefined;
  let server: RpcServer | undefined;
  let metricsServer: MetricsServer | undefined;
  let aliveMark: { stop(): void } | undefined;
  let stopping: Promise<void> | undefined;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const graceMs = options.graceMs ?? 10_000;

  const stop = (reason: string, { crashed = false } = {}): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping');
      removeDaemonInfo(paths, process.pid);
      // Bounded whatever the engine waits for (a disk that takes no writes): the daemon always goes.
      const overdue = new AbortController();
      try {
        const closed = orchestrator?.close(graceMs).then(() => true);
        const late = sleep(graceMs + CLOSE_MARGIN_MS, false, { signal: overdue.signal }).catch(() => true);
        if ((await Promise.race([closed, late])) === false)
          logger.error({ graceMs }, 'the engine did not close within its grace period; stopping anyway');
      } catch (error) {
        logger.error({ err: error }, 'the engine did not close cleanly');
      } finally {
        overdue.abort();
      }
      await server?.close({ stopped: !crashed });
      await metricsServer?.close();
      aliveMark?.stop();
      lock.release();
      logger.info('stopped');
      flush();
      markStopped();
    })();
    return stopping;
  };

  try {
    // The server's modules (tRPC, ws, the metrics) are loaded once the engine is open: a run the daemon
    // restores goes on before them (~60 ms of a 100,000-task restart's CPU on the 2-core machine).
    // The mark the daemon before left is read before this one moves it.
    const aliveUntil = readAliveMark(paths.alive);
    aliveMark = keepAliveMark(paths.alive);
    orchestrator = await options.openOrchestrator({
      home: options.home,
      loaded,
      reloadConfig: () => loadConfig({ cwd: options.home, env: options.env ?? process.env }),
      logger: root.child({ component: 'engine' }),
      processMetrics: true,
      ...(aliveUntil !== undefined && { aliveUntil }),
    });
    const metricsPort = loaded.config.monitoring.metrics_port;
    if (metricsPort !== undefined) {
      const { startMetricsServer } = await import('../metrics/metrics-server.js');
      metricsServer = await startMetricsServer({
        metrics: orchestrator.metrics,
        token,
        port: metricsPort,
        logger: root.child({ component: 'metrics' }),
      });
      orchestrator.metrics.port = metricsServer.port;
    }
    const { startRpcServer } = await import('../rpc/server.js');
    server = await startRpcServer({
      orchestrator,
      token,
      logger: root.child({ component: 'rpc' }),
      daemon: {
        pid: process.pid,
        version: VERSION,
        startedAt,
        ...(metricsServer && { metricsPort: metricsServer.port }),
      },
      requestStop: () => setImmediate(() => void stop('daemon.stop requested')),
      stopGraceMs: graceMs,
      ...(options.rpcLimits !== undefined && { limits: options.rpcLimits }),
    });
    writeDaemonInfo(paths, server.info);
    // After the runs went on (prom-client is ~50 ms of CPU): every client's first call reads the vitals.
    orchestrator.metrics
      .load()
      .catch((error: unknown) => logger.error({ err: error }, 'metrics unavailable'));
  } catch (error) {
    logger.fatal({ err: error }, 'could not start');
    await stop('start failed');
    throw error;
  }
  logger.info(
    {
      pid: process.pid,
      port: server.info.port,
      metricsPort: metricsServer?.port,
      version: VERSION,
      provider: loaded.config.models.provider,
    },
    'started',
  );
  return { info: server.info, logger, stop, stopped };
}
