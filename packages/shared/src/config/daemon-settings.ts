import type { ResolvedConfig } from './config.schema.js';

/**
 * The first key on which a run's configuration differs from its daemon's where only the daemon decides:
 * where attempts run (`execution.backend`) and the Redis server it holds a connection to (`redis.*`).
 * The daemon refuses such a run; `orc doctor` says so first.
 */
export function daemonSettingDiffering(
  daemon: ResolvedConfig,
  run: ResolvedConfig,
): { key: string; run: unknown; daemon: unknown } | undefined {
  if (run.execution.backend !== daemon.execution.backend)
    return { key: 'execution.backend', run: run.execution.backend, daemon: daemon.execution.backend };
  const redis = (config: ResolvedConfig) => config.redis as Record<string, unknown>;
  for (const key of new Set([...Object.keys(redis(daemon)), ...Object.keys(redis(run))])) {
    if (redis(run)[key] !== redis(daemon)[key])
      return { key: `redis.${key}`, run: redis(run)[key] ?? null, daemon: redis(daemon)[key] ?? null };
  }
  return undefined;
}
