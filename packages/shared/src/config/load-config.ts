import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as z from 'zod';
import { isOrcError, OrcError } from '../errors.js';
import { jsonSyntaxProblem } from '../json-syntax.js';
import { resolveUserConfigPath } from '../paths.js';
import { apiKeyProblem } from '../redact.js';
import { nearName } from '../near-name.js';
import { ConfigSchema, configJsonSchema, type ConfigInput, type ResolvedConfig } from './config.schema.js';

/** One layer of configuration and where it came from, for error messages. */
export interface ConfigLayer {
  readonly source: string;
  readonly values: unknown;
}

export interface LoadConfigOptions {
  /** Directory holding `orc.config.json` and `.env`; defaults to the process's working directory. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Highest layer: command-line flags. */
  overrides?: ConfigInput;
  /** Skip `~/.config/…/config.json` (tests and benchmarks). */
  skipUserConfig?: boolean;
  /**
   * A state directory whose `orc.config.json` (the daemon's own) is read under `./orc.config.json`:
   * `orc worker` on a daemon's machine takes its `redis` section from there.
   */
  stateDir?: string;
  /**
   * What to do when `models.provider` is anthropic and there is no key: by default, set it or choose the
   * simulated model where the provider was chosen (`orc worker` says its own: the daemon's file is not its).
   */
  withoutKey?: string;
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** Kept apart from the config so the config can be logged, stored and sent without leaking it. */
  apiKey: string | undefined;
  /** The files that contributed, lowest first. */
  sources: string[];
  /**
   * What this side sets over the daemon's configuration, merged, without defaults: `./orc.config.json`,
   * `ORC_*` variables and flags. It is what a run sends; the daemon puts it over its own (its file in the
   * state directory over the user config, which it reads itself), and a resolved config would hide the
   * daemon's settings under this side's defaults.
   */
  set: ConfigInput;
  /** Where each `section.key` of `set` was set (its file, `environment`, `command-line flags`): the last layer wins. */
  setBy: Record<string, string>;
  /** A layer (the user config included) chose `models.provider`; else the daemon's API key decides. */
  providerChosen: boolean;
  /** Every layer read, lowest first, each with where it came from. */
  layers: ConfigLayer[];
}

/** `ORC_*` variables and the config key each one sets. */
const ENV_KEYS: Record<string, { path: string[]; type: 'string' | 'number' | 'boolean' }> = {
  ORC_PROVIDER: { path: ['models', 'provider'], type: 'string' },
  ORC_BASE_URL: { path: ['models', 'base_url'], type: 'string' },
  ORC_MANAGER_MODEL: { path: ['models', 'manager', 'model'], type: 'string' },
  ORC_WORKER_MODEL: { path: ['models', 'worker', 'model'], type: 'string' },
  ORC_MAX_WORKERS: { path: ['execution', 'max_workers'], type: 'number' },
  ORC_MAX_COST_USD: { path: ['execution', 'max_cost_usd'], type: 'number' },
  ORC_MAX_TASK_COST_USD: { path: ['execution', 'max_task_cost_usd'], type: 'number' },
  ORC_MAX_RETRIES: { path: ['execution', 'max_retries'], type: 'number' },
  ORC_WORKER_TIMEOUT: { path: ['execution', 'worker_timeout'], type: 'number' },
  ORC_MACHINE_MAX_IN_FLIGHT: { path: ['execution', 'machine_max_in_flight'], type: 'number' },
  ORC_VERBOSE: { path: ['monitoring', 'verbose_logging'], type: 'boolean' },
  ORC_METRICS_PORT: { path: ['monitoring', 'metrics_port'], type: 'number' },
};

/**
 * Builds the configuration from its layers, later wins: defaults < user config < `./orc.config.json`
 * < `ORC_*` variables < overrides. Throws an OrcError naming the file, the key and what was expected.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  try {
    const { layers, sources, apiKey } = gatherLayers(options, (problem) => {
      throw new OrcError('CONFIG_INVALID', problem);
    });
    const userConfig = options.skipUserConfig ? undefined : resolveUserConfigPath(options.env ?? process.env);
    const sent = layers.filter((layer) => layer.source !== userConfig);
    return {
      config: resolveConfig(layers, apiKey !== undefined, options.withoutKey),
      apiKey,
      sources,
      set: mergeLayers(sent),
      setBy: Object.fromEntries(
        sent.flatMap((layer) => keysOf(layer.values).map((key) => [key, layer.source])),
      ),
      providerChosen: layers.some(
        (layer) => (layer.values as { models?: { provider?: unknown } }).models?.provider !== undefined,
      ),
      layers,
    };
  } catch (error) {
    if (!isOrcError(error) || error.code !== 'CONFIG_INVALID') throw error;
    // One line, the first mistake; a user who fixed it met the next one at each try (7 in a row, measured).
    const more = findConfigProblems(options).problems.length - 1;
    if (more <= 0) throw error;
    throw new OrcError(
      'CONFIG_INVALID',
      `${error.message} (and ${more} more: orc config validate lists them)`,
    );
  }
}

/**
 * Every mistake in the configuration `loadConfig` would read, each one line naming its file (or variable)
 * and key, rather than the first only; none when it is valid. `files` checks those files alone instead.
 */
export function findConfigProblems(options: LoadConfigOptions & { files?: readonly string[] } = {}): {
  sources: string[];
  problems: string[];
} {
  const problems: string[] = [];
  const report = (problem: string) => void problems.push(problem);
  const gathered = options.files
    ? { ...fileLayers(options.files, report), apiKey: undefined }
    : gatherLayers(options, report);
  for (const layer of gathered.layers) {
    const result = ConfigSchema.safeParse(layer.values);
    if (!result.success) problems.push(...describeIssues(layer.source, result.error, layer.values));
  }
  if (problems.length === 0 && !options.files) {
    try {
      resolveConfig(gathered.layers, gathered.apiKey !== undefined, options.withoutKey);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return { sources: gathered.sources, problems };
}

/** The layers of configuration, lowest first; a layer that cannot be read goes to `report`. */
function gatherLayers(
  options: LoadConfigOptions,
  report: (problem: string) => void,
): { layers: ConfigLayer[]; sources: string[]; apiKey: string | undefined } {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const here = join(cwd, 'orc.config.json');
  const daemons = options.stateDir === undefined ? undefined : join(options.stateDir, 'orc.config.json');
  const files = [
    ...(options.skipUserConfig ? [] : [resolveUserConfigPath(env)].filter((path) => path !== undefined)),
    ...(daemons !== undefined && resolve(daemons) !== resolve(here) ? [daemons] : []),
    here,
  ];
  const { layers, sources } = fileLayers(files, report);
  if (env['ANTHROPIC_BASE_URL']) {
    layers.push({
      source: 'ANTHROPIC_BASE_URL',
      values: { models: { base_url: env['ANTHROPIC_BASE_URL'] } },
    });
  }
  layers.push({ source: 'environment', values: envLayer(env, report) });
  if (options.overrides) layers.push({ source: 'command-line flags', values: options.overrides });

  const apiKey = env['ANTHROPIC_API_KEY'] || readDotEnv(cwd)['ANTHROPIC_API_KEY'] || undefined;
  const problem = apiKey ? apiKeyProblem(apiKey) : undefined;
  if (problem) report(`${problem}; fix it or unset it to run on the simulated model`);
  return { layers, sources, apiKey };
}

/** The keys a layer sets, as `section.key` (a section's records, such as prices, count as one key). */
export function keysOf(values: unknown): string[] {
  if (typeof values !== 'object' || values === null) return [];
  return Object.entries(values as Record<string, unknown>).flatMap(([section, value]) =>
    section === '$schema'
      ? []
      : typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.keys(value).map((key) => `${section}.${key}`)
        : [section],
  );
}

function fileLayers(
  files: readonly string[],
  report: (problem: string) => void,
): { layers: ConfigLayer[]; sources: string[] } {
  const layers: ConfigLayer[] = [];
  const sources: string[] = [];
  for (const file of files) {
    const values = readJsonFile(file, report);
    if (values !== undefined) {
      layers.push({ source: file, values });
      sources.push(file);
    }
  }
  return { layers, sources };
}

/**
 * Validates each layer on its own (so errors name their file), then merges and resolves defaults.
 * `withoutKey`: the fix for anthropic without a key (default: set it, or `providerFix`).
 */
export function resolveConfig(
  layers: readonly ConfigLayer[],
  hasApiKey: boolean,
  withoutKey?: string,
): ResolvedConfig {
  for (const layer of layers) {
    const result = ConfigSchema.safeParse(layer.values);
    if (!result.success) throw configError(layer.source, result.error, layer.values);
  }
  const merged = mergeLayers(layers);
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw configError('the merged configuration', parsed.error, merged);
  const config = parsed.data;
  const provider = config.models.provider ?? (hasApiKey ? 'anthropic' : 'simulated');
  if (provider === 'anthropic' && !hasApiKey && !config.models.base_url) {
    throw new OrcError(
      'CONFIG_INVALID',
      `models.provider is "anthropic" but ANTHROPIC_API_KEY is not set; ${withoutKey ?? `set it, or ${providerFix(layers)}`}`,
    );
  }
  return { ...config, models: { ...config.models, provider } };
}

/**
 * How to run on the simulated model instead, where the provider was chosen: only a command that has
 * `--provider` (orc run, orc plan) is told to use it; `orc ls` or a daemon was told of a flag it lacks.
 */
export function providerFix(layers: readonly ConfigLayer[]): string {
  const chose = layers.findLast(
    (layer) => (layer.values as { models?: { provider?: unknown } }).models?.provider !== undefined,
  );
  if (chose === undefined || chose.source === 'command-line flags') return 'use --provider simulated';
  if (chose.source === 'environment') return 'set ORC_PROVIDER=simulated';
  return `set models.provider to "simulated" in ${chose.source}`;
}

/**
 * A configuration that was resolved before and stored (a run's own, in its document), checked again
 * against the schema as it is now: a document from an older version or edited by hand is caught here,
 * by key, rather than trusted.
 */
export function parseResolvedConfig(values: unknown, source: string): ResolvedConfig {
  const parsed = ConfigSchema.safeParse(values);
  if (!parsed.success) throw configError(source, parsed.error, values);
  const provider = parsed.data.models.provider;
  if (provider === undefined) {
    throw new OrcError('CONFIG_INVALID', `${source}: config key models.provider is missing`);
  }
  return { ...parsed.data, models: { ...parsed.data.models, provider } };
}

function configError(source: string, error: z.ZodError, values: unknown): OrcError {
  return new OrcError('CONFIG_INVALID', describeIssues(source, error, values)[0]!);
}

/**
 * Each issue as a line naming the file and the key. Unknown keys come first: a misspelt key also makes
 * its parent miss a required one, and the unknown key is the useful report.
 */
function describeIssues(source: string, error: z.ZodError, values: unknown): string[] {
  const unknown = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => {
          const near = nearName(key, knownKeysAt(issue.path));
          const fix = near === undefined ? 'check its spelling' : `did you mean "${near}"?`;
          return `${source}: unknown config key ${[...issue.path, key].join('.')}; ${fix} (see orc config schema)`;
        })
      : [],
  );
  const others = error.issues
    .filter((issue) => issue.code !== 'unrecognized_keys')
    .map((issue) => {
      const got = valueAt(values, issue.path);
      const shown = got === undefined ? 'nothing' : JSON.stringify(got);
      const expected = issue.message.replace(/^Invalid input: /, '');
      return `${source}: config key ${issue.path.join('.') || '(root)'} ${expected} (got ${shown})`;
    });
  return [...unknown, ...others];
}

/** The keys the config file may have at `path` (its sections at the root), from its JSON Schema. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let node = configJsonSchema() as { properties?: Record<string, unknown> } | undefined;
  for (const key of path) node = node?.properties?.[String(key)] as typeof node;
  return Object.keys(node?.properties ?? {}).filter((key) => key !== '$schema');
}

function valueAt(values: unknown, path: readonly PropertyKey[]): unknown {
  let current = values;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** The file's JSON; undefined when it does not exist or cannot be used (then `report` says why). */
function readJsonFile(file: string, report: (problem: string) => void): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      report(`${file}: cannot be read (${(error as Error).message})`);
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    report(`${file}: is not valid JSON (${jsonSyntaxProblem(error, text)}); fix the syntax`);
    return undefined;
  }
}

function readDotEnv(cwd: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, '.env'), 'utf8');
  } catch {
    return {};
  }
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) values[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}

function envLayer(env: NodeJS.ProcessEnv, report: (problem: string) => void): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const [name, { path, type }] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = type === 'number' ? Number(raw) : type === 'boolean' ? raw === '1' || raw === 'true' : raw;
    if (type === 'number' && Number.isNaN(value)) {
      report(`environment: ${name} must be a number (got ${JSON.stringify(raw)})`);
      continue;
    }
    let node = layer;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  }
  return layer;
}

/** The layers' values, later over earlier, as written (no defaults). */
function mergeLayers(layers: readonly ConfigLayer[]): Record<string, unknown> {
  let merged: Record<string, unknown> = {};
  for (const layer of layers) merged = deepMerge(merged, layer.values as Record<string, unknown>);
  return merged;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    // A price entry is replaced whole (never input from one layer and output from another).
    if (key === 'prices' && isPlainObject(prev) && isPlainObject(value)) out[key] = { ...prev, ...value };
    else out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
