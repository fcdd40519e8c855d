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
 * the user config, its environment, then the defaults), checked whole. Some keys are the daemon's alone
 * (where attempts run, its cap on calls in flight, its metrics, log and notifications): a run that sets
 * one to another value is refused rather than quietly run without it.
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
        `${JSON.stringify(differs.daemon)} (${home}/orc.config.json): ${differs.why}; ` +
        `drop the key, or set it there and restart the daemon (orc daemon stop)`,
    );
  }
  return config;
}
