import type { ResolvedConfig } from './config.schema.js';
import { keysOf, type ConfigLayer } from './load-config.js';

/**
 * Keys only the daemon decides, for every run it holds, with why in the words a refusal gives. A run's
 * configuration can set them only to the daemon's own value: anything else would be quietly ignored.
 * A trailing `*` takes every key of the section.
 */
const DAEMON_SETTINGS: readonly { key: string; why: string }[] = [
  { key: 'execution.backend', why: "where attempts run is the daemon's choice" },
  { key: 'redis.*', why: "where attempts run is the daemon's choice" },
  { key: 'execution.machine_max_in_flight', why: 'it caps the model calls of every run of the daemon' },
  { key: 'monitoring.metrics_port', why: 'the daemon serves one metrics endpoint for all its runs' },
  { key: 'monitoring.verbose_logging', why: 'the daemon keeps one log for all its runs' },
  ...['command', 'webhook', 'desktop', 'on', 'grace_seconds'].map((name) => ({
    key: `notifications.${name}`,
    why: 'the daemon sends the notifications of all its runs',
  })),
];

/** Whether `section.key` is one only the daemon decides. */
export function isDaemonSetting(key: string): boolean {
  return DAEMON_SETTINGS.some((setting) => matches(setting.key, key));
}

/** A key only the daemon decides that a run's configuration sets otherwise: both values, and why. */
export interface DifferingSetting {
  key: string;
  /** As JSON, or `unset`. */
  run: string;
  daemon: string;
  why: string;
}

/**
 * Every key on which a run's configuration differs from its daemon's where only the daemon decides
 * (`DAEMON_SETTINGS`), with why, all at once so they are fixed at once. The daemon refuses such a run;
 * `orc doctor` says so first.
 */
export function daemonSettingsDiffering(daemon: ResolvedConfig, run: ResolvedConfig): DifferingSetting[] {
  const differing: DifferingSetting[] = [];
  for (const { key: pattern, why } of DAEMON_SETTINGS) {
    const [section, name] = pattern.split('.') as [keyof ResolvedConfig, string];
    const ofDaemon = daemon[section] as Record<string, unknown>;
    const ofRun = run[section] as Record<string, unknown>;
    const names = name === '*' ? new Set([...Object.keys(ofDaemon), ...Object.keys(ofRun)]) : [name];
    for (const key of names) {
      if (JSON.stringify(ofRun[key]) !== JSON.stringify(ofDaemon[key]))
        differing.push({
          key: `${section}.${key}`,
          run: shown(ofRun[key]),
          daemon: shown(ofDaemon[key]),
          why,
        });
    }
  }
  return differing;
}

function shown(value: unknown): string {
  return value === undefined || value === null ? 'unset' : JSON.stringify(value);
}

function matches(pattern: string, key: string): boolean {
  return pattern.endsWith('.*') ? key.startsWith(pattern.slice(0, -1)) : pattern === key;
}

/**
 * `config` with every key only the daemon decides put back to `daemon`'s: a config file read afresh for a
 * new run changes the run's settings at once, but these only when the daemon starts again.
 */
export function withDaemonSettings(config: ResolvedConfig, daemon: ResolvedConfig): ResolvedConfig {
  const out: Record<string, Record<string, unknown>> = { ...config } as never;
  for (const { key: pattern } of DAEMON_SETTINGS) {
    const [section, name] = pattern.split('.') as [keyof ResolvedConfig, string];
    const ofDaemon = daemon[section] as Record<string, unknown>;
    if (name === '*') {
      out[section] = ofDaemon;
      continue;
    }
    const { [name]: _dropped, ...rest } = out[section]!;
    out[section] = ofDaemon[name] === undefined ? rest : { ...rest, [name]: ofDaemon[name] };
  }
  return out as unknown as ResolvedConfig;
}

/**
 * Where the daemon's value of `key` came from, in a refusal's words: the last of its layers that sets it
 * (a file, its environment), or the default when none does.
 */
export function daemonSettingSource(layers: readonly ConfigLayer[], key: string): string {
  const layer = layers.findLast((candidate) => keysOf(candidate.values).includes(key));
  if (layer === undefined) return 'the default';
  return layer.source === 'environment' ? "the daemon's environment" : layer.source;
}
