import { OrcError, type ResolvedConfig } from '@orc/shared';
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';

/** Where a Redis server is and how to log in; the password comes from the environment, never a file we keep. */
export interface RedisTarget {
  url: string;
  username?: string;
  password?: string;
  tls: boolean;
}

export function redisTargetOf(
  section: ResolvedConfig['redis'],
  env: NodeJS.ProcessEnv,
  url = section.url,
): RedisTarget {
  const password = env[section.password_env] || undefined;
  return {
    url,
    tls: section.tls,
    ...(section.username !== undefined && { username: section.username }),
    ...(password !== undefined && { password }),
  };
}

/** The URL as it may be shown: without a password it may carry. */
export function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/**
 * A connection as BullMQ wants it (`maxRetriesPerRequest: null`: a command waits through a reconnect
 * instead of failing), reconnecting for ever with a delay capped at 2 s, so both sides go on by
 * themselves after a Redis restart.
 */
export function openRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  const tls = target.tls || target.url.startsWith('rediss://');
  // Loaded at the first connection: the daemon imports this module whether or not Redis is used.
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  const redis = new RedisClient(target.url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    connectTimeout: 5_000,
    // BullMQ reads replies in RESP2's shapes.
    protocol: 2,
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
    ...(tls && { tls: {} }),
    ...options,
  });
  return quiet(redis);
}

/**
 * A connection whose errors are its going and coming (watched through `status`, `close` and `ready`),
 * not news: without a listener ioredis prints each failed reconnect on stderr.
 */
export function quiet(redis: Redis): Redis {
  redis.on('error', () => {});
  return redis;
}

/**
 * A connection that is ready, or an `OrcError` saying why not in one line (refused, timed out, the
 * password refused) within `timeoutMs`. The connection it gives back reconnects by itself from then on.
 */
export async function connectRedis(
  target: RedisTarget,
  timeoutMs: number,
  options: RedisOptions = {},
): Promise<Redis> {
  const redis = openRedis(target, { lazyConnect: true, ...options });
  let lastError: Error | undefined;
  const remember = (error: Error) => (lastError = error);
  redis.on('error', remember);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(lastError ?? new Error('timed out')), timeoutMs);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      redis.connect().catch((error: unknown) => {
        // An auth refusal never gets better by retrying.
        if (error instanceof Error && /NOAUTH|WRONGPASS|NOPERM/.test(error.message)) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  } catch (error) {
    redis.disconnect();
    throw unreachable(target, error);
  } finally {
    redis.off('error', remember);
  }
  return redis;
}

export function unreachable(target: RedisTarget, error: unknown): OrcError {
  const why = error instanceof Error ? reasonOf(error) : String(error);
  return new OrcError(
    'BACKEND_UNREACHABLE',
    `cannot reach Redis at ${shownUrl(target.url)} (${why}); start it, or check the URL, its password (${'$'}ORC_REDIS_PASSWORD or redis.password_env) and TLS`,
  );
}

function reasonOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error.message.split('\n')[0]!.slice(0, 120);
}
