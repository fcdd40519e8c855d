import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, resolveStateDir, type ConfigLayer } from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';

interface WorkerOptions {
  redis?: string;
  concurrency: string;
  queue?: string;
  workdirRoot?: string;
}

/**
 * `orc worker`: this machine takes attempts from a daemon whose `execution.backend` is `redis`, and makes
 * the model calls with its own configuration and key. Runs until interrupted; the first Ctrl-C lets the
 * attempts in hand finish, a second stops them (BullMQ hands them to another worker).
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("take a daemon's attempts from Redis and run them here, with this machine's key")
    .option('--redis <url>', 'the Redis server the daemon uses (default: redis.url of the config)')
    .option('--concurrency <n>', 'attempts run at once', '4')
    .option('--queue <name>', 'the daemon queue to serve, when several daemons share the Redis server')
    .option(
      '--workdir-root <dir>',
      "where Claude Code attempts keep their clones of the runs' remotes and work (default: <state dir>/worker-clones)",
    )
    .action(async (options: WorkerOptions) => {
      const concurrency = Number(options.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
        throw new UsageError(
          `--concurrency takes a whole number from 1 to 256 (got "${options.concurrency}")`,
        );
      if (options.redis !== undefined && !/^rediss?:\/\//.test(options.redis))
        throw new UsageError(`--redis takes a redis:// or rediss:// URL (got "${options.redis}")`);
      if (options.queue !== undefined && !/^[A-Za-z0-9_.-]+$/.test(options.queue))
        throw new UsageError(`--queue takes letters, digits, _ . or - (got "${options.queue}")`);
      if (
        options.workdirRoot !== undefined &&
        existsSync(options.workdirRoot) &&
        !statSync(options.workdirRoot).isDirectory()
      )
        throw new UsageError(`--workdir-root takes a directory (${options.workdirRoot} is a file)`);
      // The daemon's own file too, so a worker on its machine finds its Redis without --redis.
      const stateDir = resolveStateDir();
      // Its runs' provider is the daemon's to choose; the key for their calls is this machine's.
      const { config, apiKey, layers } = loadConfig({
        stateDir,
        withoutKey:
          "set it where orc worker runs: a worker makes the model calls of the daemon's runs with its own key",
      });
      const say = (line: string) => process.stderr.write(`orc worker: ${line}\n`);
      // The engine (BullMQ, the providers, the daemon's modules) is loaded only by the command that runs
      // it: imported at the top, every orc command loaded it, half of what `orc ls` cost (see main.ts).
      const { defaultProviders, redisTargetOf, startRemoteWorker, systemClock } = await import('@orc/daemon');
      const worker = await startRemoteWorker({
        target: redisTargetOf(config.redis, process.env, options.redis),
        targetFrom: options.redis !== undefined ? '--redis' : urlSource(layers, stateDir),
        ...(options.queue !== undefined && { queue: options.queue }),
        workdirRoot: resolve(options.workdirRoot ?? join(resolveStateDir(), 'worker-clones')),
        concurrency,
        config,
        apiKey,
        providers: defaultProviders,
        clock: systemClock,
        logLevel: process.env['ORC_DEBUG'] ? 'debug' : 'warn',
        say,
      });
      await new Promise<void>((done) => {
        let signals = 0;
        const stop = () => {
          signals += 1;
          say(
            signals === 1
              ? 'stopping once the attempts in hand finish (Ctrl-C again to stop now)'
              : 'stopping now',
          );
          void worker.stop(signals > 1).then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

/** Which layer set `redis.url`: the highest that has it, or the default and where to set it. */
function urlSource(layers: readonly ConfigLayer[], stateDir: string): string {
  const setting = layers.findLast(
    (layer) => (layer.values as { redis?: { url?: unknown } } | undefined)?.redis?.url !== undefined,
  );
  return setting
    ? `redis.url in ${setting.source}`
    : `the default: set redis.url in ${join(stateDir, 'orc.config.json')} or pass --redis`;
}
