import { daemonStatus, startDaemon, stopDaemon } from '@orc/daemon/client';
import { plural, resolveStateDir, statePaths } from '@orc/shared';
import type { Command } from 'commander';
import { CommandFailed, EXIT } from './cli-error.js';
import { emit, printJson } from './output.js';

/** `orc daemon start|stop|status`: the one background process that owns every run. */
export function registerDaemonCommands(program: Command): void {
  const daemon = program.command('daemon').description('start, stop or inspect the background daemon');

  daemon
    .command('start')
    .description('start the daemon for this state directory (fails if one is running)')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const info = await startDaemon();
      emit(
        options,
        { running: true, home: resolveStateDir(), ...info },
        () => `daemon started (pid ${info.pid}, port ${info.port}, ${resolveStateDir()})`,
      );
    });

  daemon
    .command('stop')
    .description('stop the daemon; runs are persisted and resume when it starts again')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      // The wait for work under way can take the whole grace period: said at once, not after it.
      const stopped = await stopDaemon({
        onStopping: ({ underWay, graceMs }) => {
          if (underWay === 0 || graceMs === undefined) return;
          const line = `stopping the daemon: waiting up to ${Math.ceil(graceMs / 1000)}s for the work under way in ${plural(underWay, 'run')}; what is not done by then goes on when it starts again\n`;
          (options.json ? process.stderr : process.stdout).write(line);
        },
      });
      emit(options, { stopped: stopped !== undefined, ...(stopped ? { pid: stopped.pid } : {}) }, () =>
        stopped ? `daemon stopped (pid ${stopped.pid})` : 'no daemon was running',
      );
    });

  daemon
    .command('status')
    .description('whether a daemon is running, with its pid and port; exits 5 when none is')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const status = await daemonStatus();
      const log = statePaths(status.home).log;
      if (status.running) {
        emit(
          options,
          { running: true, home: status.home, log, ...status.info },
          () =>
            `daemon running (pid ${status.info.pid}, port ${status.info.port}, version ${status.info.version}, since ${status.info.startedAt}); state dir ${status.home}${metricsText(status.info.metricsPort)}`,
        );
        return;
      }
      if (options.json)
        printJson({ running: false, home: status.home, ...(status.stale ? { stale: status.stale } : {}) });
      throw new CommandFailed(
        status.stale
          ? `daemon not running (pid ${status.stale.pid} in daemon.json is gone); start it with orc daemon start`
          : 'daemon not running; start it with orc daemon start',
        EXIT.daemon,
      );
    });
}

/** Where a scraper finds the metrics, when the daemon serves them. */
function metricsText(port: number | undefined): string {
  return port === undefined ? '' : `; metrics at http://127.0.0.1:${port}/metrics (bearer: the token file)`;
}
