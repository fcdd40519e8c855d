import { join, resolve } from 'node:path';
import {
  providerFix,
  daemonSettingSource,
  daemonSettingsDiffering,
  findConfigProblems,
  isDaemonSetting,
  keysOf,
  loadConfig,
  resolveConfig,
  resolveStateDir,
  resolveUserConfigPath,
  type ConfigLayer,
  type LoadedConfig,
  type ResolvedConfig,
} from '@orc/shared';
import type { Check } from './model-checks.js';

/** What `orc doctor` learns of the configuration: its lines, and what a run started here would use. */
export interface ConfigFindings {
  checks: Check[];
  /** The daemon's configuration with this directory's over it; undefined when either cannot be read. */
  config?: ResolvedConfig;
  providerChosen: boolean;
  /** Where models.provider was chosen, as the fix that runs on the simulated model instead says it. */
  simulatedFix?: string;
  clientKey: boolean;
}

/**
 * The configuration files a run is made from, each with the keys it sets, and which wins where: this
 * directory's `orc.config.json` (with `ORC_*` variables) is sent with each run started here, over the
 * daemon's (its `orc.config.json` in the state directory, over the user config).
 */
export function checkConfigFiles(daemonRunning: boolean, cwd = process.cwd()): ConfigFindings {
  const home = resolveStateDir();
  const daemonFile = join(home, 'orc.config.json');
  const here = join(resolve(cwd), 'orc.config.json');
  let client: LoadedConfig;
  let daemon: LoadedConfig;
  try {
    client = loadConfig({ cwd });
  } catch (error) {
    return { checks: [fail((error as Error).message)], providerChosen: false, clientKey: false };
  }
  const clientKey = client.apiKey !== undefined;
  try {
    daemon = loadConfig({ cwd: home });
  } catch {
    const problems = findConfigProblems({ files: [daemonFile] }).problems;
    // A running daemon reads its file again for each new run: those fail, the runs it has go on.
    const until = daemonRunning
      ? 'new runs fail until it is fixed (runs under way go on; the daemon would not start again with it)'
      : 'the daemon will not start until it is fixed';
    const detail = `the daemon's ${problems[0] ?? `${daemonFile} cannot be used`}; ${until}`;
    return { checks: [fail(detail)], providerChosen: client.providerChosen, clientKey };
  }
  let config: ResolvedConfig | undefined;
  let configProblem: string | undefined;
  try {
    config = resolveConfig(
      [
        { source: daemonFile, values: daemon.config },
        { source: here, values: client.set },
      ],
      clientKey,
    );
  } catch (error) {
    configProblem = (error as Error).message;
  }
  const differing = config ? daemonSettingsDiffering(daemon.config, config) : [];
  const keysOf = (source: string) => keysSet(client.layers.concat(daemon.layers), source);
  const userFile = resolveUserConfigPath();
  const lines: Check[] = [];
  if (userFile !== undefined && keysOf(userFile).length > 0)
    lines.push(
      ok(
        `${userFile} (user config) sets ${list(keysOf(userFile))}; the daemon's base, under both files, read again for each new run`,
      ),
    );
  if (here === daemonFile) {
    lines.push(ok(`${here} (here and the daemon's) sets ${list(keysOf(here))}`));
  } else {
    const daemonKeys = keysOf(daemonFile);
    lines.push(
      ok(
        daemonKeys.length > 0
          ? `${daemonFile} (the daemon's) sets ${list(daemonKeys)}; a run's own keys go over it`
          : `${daemonFile} (the daemon's): not there or empty; the daemon uses the defaults`,
      ),
    );
    const sent = keysOf(here).concat(keysOf('environment'));
    // Keys only the daemon decides do not go over its own: each matches it, or fails below with both values.
    const own = keysOf(here).filter((key) => !isDaemonSetting(key));
    const daemonOnly = keysOf(here).filter(isDaemonSetting);
    const differs = new Set(differing.map((d) => d.key));
    const matching = daemonOnlyText(daemonOnly, differs);
    lines.push(
      ok(
        own.length > 0
          ? `${here} (here) sets ${list(own)}; sent with each run started here, over the daemon's${matching ? `; ${list(daemonOnly)}, which only the daemon decides: ${matching}` : ''}`
          : daemonOnly.length > 0
            ? `${here} (here) sets ${list(daemonOnly)}, which only the daemon decides: ${matching}`
            : `${here}: not there or empty; runs started here use the daemon's configuration`,
      ),
    );
    // The daemon's own settings (a differing value is refused below) never win here.
    const both = sent.filter((key) => daemonKeys.includes(key) && !isDaemonSetting(key));
    if (both.length > 0)
      lines.push(ok(`both set ${list(both)}: this directory's wins for runs started here`));
  }
  if (configProblem !== undefined) lines.push(fail(configProblem));
  // Each key only the daemon decides and set otherwise here: all of them, to be fixed at once, with both
  // values as orc run's refusal gives them.
  for (const d of differing) {
    const source = daemonSettingSource(daemon.layers, d.key);
    lines.push(
      fail(
        `${d.key} is ${d.run} here, but the daemon's is ${d.daemon} (${source}); ${d.why}, so runs ` +
          `started here are refused: drop it from ${here}, or set it ${source.endsWith('.json') ? 'there' : `in ${daemonFile}`} ` +
          `and restart the daemon`,
      ),
    );
  }
  return {
    checks: lines,
    ...(config && { config }),
    providerChosen: client.providerChosen || daemon.providerChosen,
    // This directory's layers go over the daemon's: the last one that chose the provider is the one to change.
    simulatedFix: providerFix([...daemon.layers, ...client.layers]),
    clientKey,
  };
}

/** The keys a layer sets, as `section.key`. */
function keysSet(layers: readonly ConfigLayer[], source: string): string[] {
  return keysOf(layers.find((candidate) => candidate.source === source)?.values);
}

/** Whether the keys only the daemon decides set here match its own: say so, either way. */
function daemonOnlyText(keys: readonly string[], differs: ReadonlySet<string>): string {
  if (keys.length === 0) return '';
  const same = keys.filter((key) => !differs.has(key));
  const other = keys.filter((key) => differs.has(key));
  if (other.length === 0) return `the same as the daemon's, as it must be`;
  if (same.length === 0) return `not the same as the daemon's (see below)`;
  return `${list(same)} the same as the daemon's, ${list(other)} not (see below)`;
}

function list(keys: readonly string[]): string {
  return keys.length === 0 ? 'nothing' : [...new Set(keys)].join(', ');
}

function ok(detail: string): Check {
  return { name: 'config', status: 'ok', detail };
}

function fail(detail: string): Check {
  return { name: 'config', status: 'fail', detail };
}
