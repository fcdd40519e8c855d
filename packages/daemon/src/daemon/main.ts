#!/usr/bin/env node
import { isOrcError, resolveStateDir } from '@orc/shared';
import type { DaemonStartupMessage } from '../client/daemon-control.js';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import { type RunningDaemon, runDaemon } from './run-daemon.js';

/**
 * The daemon process. Started detached by `orc daemon start` (or any client's `ensureDaemon`), which
 * listens on the IPC channel for one startup message and then lets go.
 */
async function main(): Promise<void> {
  let daemon: RunningDaemon;
  try {
    daemon = await runDaemon({
      home: resolveStateDir(process.env),
      env: process.env,
      openOrchestrator: createOrchestrator,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`orc-daemon: ${message}\n`);
    await report({ type: 'failed', code: isOrcError(error) ? error.code : undefined, message });
    process.exit(1);
  }
  await report({ type: 'ready', info: daemon.info });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void daemon.stop(`received ${signal}`));
  }
  // A closed terminal must not take the daemon down.
  process.on('SIGHUP', () => undefined);
  process.on('uncaughtException', (error) => {
    daemon.logger.fatal({ err: error }, 'uncaught exception');
    void daemon.stop('uncaught exception', { crashed: true }).finally(() => process.exit(1));
  });
  process.on('unhandledRejection', (reason) => {
    daemon.logger.error({ err: reason }, 'unhandled rejection');
  });
  await daemon.stopped;
  process.exit(0);
}

/** Tells the starter (if any) how start-up went, then lets go of the IPC channel. */
function report(message: DaemonStartupMessage): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) return Promise.resolve();
  return new Promise((resolve) => {
    send(message, undefined, {}, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}

await main();
