import { urlWithoutPassword, type ResolvedConfig } from '@orc/shared';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CallObserver } from '../quota/quota-governor.js';
import { openRedisAttempts } from './open-redis-attempts.js';
import type { RedisAttempts } from './redis-attempts.js';

/**
 * The Redis servers a daemon's runs make their attempts on, one connection each. A run goes on on the
 * server it was started with (its stored `redis` section), whatever the daemon's config says now: a
 * restored run's workers, jobs and answers are there. The daemon's own backend is its config's, and only
 * when that chooses Redis; a restored run on another server is that run's, not the daemon's.
 */
export class RedisBackends {
  private readonly opened = new Map<string, RedisAttempts>();

  constructor(
    private readonly options: {
      home: string;
      /** The daemon's own configuration. */
      base: ResolvedConfig;
      env: NodeJS.ProcessEnv;
      clock: Clock;
      logger: Logger;
      observer?: CallObserver;
    },
  ) {}

  /** The daemon's own backend: its config's Redis, when its `execution.backend` is `redis`. */
  get own(): RedisAttempts | undefined {
    return this.forConfig(this.options.base);
  }

  /** The backend of a run with this configuration; none for a local run. */
  forConfig(config: ResolvedConfig): RedisAttempts | undefined {
    if (config.execution.backend !== 'redis') return undefined;
    const { base } = this.options;
    // A run's stored URL has no password: the daemon's own URL gives it back when it is the same server.
    const section =
      urlWithoutPassword(config.redis.url) === urlWithoutPassword(base.redis.url)
        ? { ...config.redis, url: base.redis.url }
        : config.redis;
    const key = `${urlWithoutPassword(section.url)} ${section.queue ?? ''}`;
    let backend = this.opened.get(key);
    if (!backend) {
      backend = openRedisAttempts({ ...this.options, redis: section });
      this.opened.set(key, backend);
    }
    return backend;
  }

  /** The daemon stops: jobs in flight are the workers' to finish (see `RedisAttempts.detach`). */
  detach(): void {
    for (const backend of this.opened.values()) backend.detach();
  }

  async close(): Promise<void> {
    await Promise.all([...this.opened.values()].map((backend) => backend.close()));
  }
}
