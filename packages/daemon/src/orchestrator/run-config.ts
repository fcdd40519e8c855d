import {
  daemonSettingSource,
  daemonSettingsDiffering,
  type ConfigLayer,
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
  /** The daemon's state directory and the layers its configuration was made of, to say where its value is from. */
  daemon: { home: string; layers: readonly ConfigLayer[] },
  /** Where each key of `set` was set (`StartRunInput.configFrom`), to name it in a refusal. */
  from: Readonly<Record<string, string>> = {},
): ResolvedConfig {
  if (set === undefined) return base;
  const config = resolveConfig(
    [
      { source: 'daemon configuration', values: base },
      { source: 'run configuration', values: set },
    ],
    hasApiKey,
  );
  const differing = daemonSettingsDiffering(base, config);
  const [first] = differing;
  const where = (key: string) => from[key] ?? 'your configuration';
  const daemonFile = `${daemon.home}/orc.config.json`;
  const source = (key: string) => daemonSettingSource(daemon.layers, key);
  if (first && differing.length === 1) {
    const fromFile = source(first.key).endsWith('.json');
    throw new OrcError(
      'CONFIG_INVALID',
      `config key ${first.key} is ${first.run} in ${where(first.key)}, but the daemon's is ${first.daemon} ` +
        `(${source(first.key)}): ${first.why}; drop the key, or set it ${fromFile ? 'there' : `in ${daemonFile}`} ` +
        `and restart the daemon (orc daemon stop)`,
    );
  }
  if (differing.length > 1) {
    const each = differing.map(
      (d) =>
        `${d.key} (${d.run} in ${where(d.key)}, the daemon's ${d.daemon} from ${source(d.key)}: ${d.why})`,
    );
    throw new OrcError(
      'CONFIG_INVALID',
      `config keys only the daemon decides differ from its own: ${each.join('; ')}; ` +
        `drop them, or set them in ${daemonFile} and restart the daemon (orc daemon stop)`,
    );
  }
  return config;
}
