import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '@orc/shared';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CallObserver } from '../quota/quota-governor.js';
import { RedisAttempts } from './redis-attempts.js';
import { openRedis, redisTargetOf, shownUrl } from './redis-connection.js';
import { TakeBacks } from './take-backs.js';

/**
 * The daemon's Redis backend, when its config chooses it. The daemon starts whether Redis answers or
 * not: the connection keeps trying, and a run whose call cannot reach it pauses until it can.
 */
export function openRedisAttempts(options: {
  home: string;
  /** The server and queue: the daemon's `redis` section, or a restored run's. */
  redis: ResolvedConfig['redis'];
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  /** The daemon's metrics: they count the workers' calls as the local governor's. */
  observer?: CallObserver;
}): RedisAttempts {
  const { redis, logger } = options;
  const connection = openRedis(redisTargetOf(redis, options.env));
  connection.on('error', (error: Error) => logger.debug({ err: error.message }, 'Redis connection'));
  const queue = redis.queue ?? `orc-${daemonId(options.home)}`;
  return new RedisAttempts({
    connection,
    url: redis.url,
    queue,
    takeBacks: new TakeBacks(takeBacksFile(options.home, redis.url, queue)),
    stallMs: redis.stall_seconds * 1000,
    clock: options.clock,
    logger,
    ...(options.observer && { observer: options.observer }),
  });
}

/** Where the take-backs not yet sent to this server's queue are kept (`redis/take-backs-<hash>.json`). */
function takeBacksFile(home: string, url: string, queue: string): string {
  const hash = createHash('sha256')
    .update(`${shownUrl(url)} ${queue}`)
    .digest('hex')
    .slice(0, 12);
  return join(home, 'redis', `take-backs-${hash}.json`);
}

/**
 * The state directory's id, made once: its queue keeps its name across restarts, so a restarted daemon
 * finds the jobs (and answers) its workers went on with.
 */
function daemonId(home: string): string {
  const file = join(home, 'daemon-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[a-f0-9]{8,}$/.test(id)) return id;
  } catch {
    // Made below.
  }
  const id = randomBytes(4).toString('hex');
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
