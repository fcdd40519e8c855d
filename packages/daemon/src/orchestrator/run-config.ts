import {
  daemonSettingDiffering,
  OrcError,
  resolveConfig,
  type ConfigInput,
  type ResolvedConfig,
} from '@orc/shared';

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
  const differs = daemonSettingDiffering(base, config);
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
