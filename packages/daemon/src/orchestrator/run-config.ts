import { OrcError, resolveConfig, type ConfigInput, type ResolvedConfig } from '@orc/shared';

/**
 * A run's (or a plan's) configuration: what the user set (their config files, `ORC_*` variables and
 * flags, as `orc run` sends them) over the daemon's own (its `orc.config.json` in the state directory,
 * the user config, its environment, then the defaults), checked whole. Where attempts run is the
 * daemon's: it holds the Redis connection its workers serve, so a run that asks for another backend or
 * server is refused rather than quietly run where it did not ask.
 */
export function runConfigOver(
  base: ResolvedConfig,
  set: ConfigInput | undefined,
  hasApiKey: boolean,
  home: string,
): ResolvedConfig {
  if (set === undefined) return base;
  const config = resolveConfig(
    [
      { source: 'daemon configuration', values: base },
      { source: 'run configuration', values: set },
    ],
    hasApiKey,
  );
  const differs = daemonOnlyDifference(base, config);
  if (differs !== undefined) {
    throw new OrcError(
      'CONFIG_INVALID',
      `config key ${differs.key} is ${JSON.stringify(differs.run)} in your configuration, but the daemon's is ` +
        `${JSON.stringify(differs.daemon)} (${home}/orc.config.json): where attempts run is the daemon's choice; ` +
        `drop the key, or set it there and restart the daemon (orc daemon stop)`,
    );
  }
  return config;
}

/** The first daemon-wide key (the backend, the Redis server) on which the run's config differs. */
function daemonOnlyDifference(
  base: ResolvedConfig,
  config: ResolvedConfig,
): { key: string; run: unknown; daemon: unknown } | undefined {
  if (config.execution.backend !== base.execution.backend)
    return { key: 'execution.backend', run: config.execution.backend, daemon: base.execution.backend };
  const keys = new Set([...Object.keys(base.redis), ...Object.keys(config.redis)]);
  for (const key of keys) {
    const run = (config.redis as Record<string, unknown>)[key];
    const daemon = (base.redis as Record<string, unknown>)[key];
    if (run !== daemon) return { key: `redis.${key}`, run: run ?? null, daemon: daemon ?? null };
  }
  return undefined;
}
