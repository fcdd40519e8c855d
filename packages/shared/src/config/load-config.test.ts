import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OrcError } from '../errors.js';
import { DEFAULT_PRICES } from './config.schema.js';
import { findConfigProblems, loadConfig, resolveConfig, type LoadConfigOptions } from './load-config.js';

const API_KEY = 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789';

let root: string;
let cwd: string;
let xdg: string;
let userConfigPath: string;
let projectConfigPath: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'orc-load-config-'));
  cwd = join(root, 'project');
  xdg = join(root, 'xdg-config');
  userConfigPath = join(xdg, 'claude-orchestrator', 'config.json');
  projectConfigPath = join(cwd, 'orc.config.json');
  await mkdir(cwd, { recursive: true });
  await mkdir(join(xdg, 'claude-orchestrator'), { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Loads with only the variables given: never the real environment, home or API key. */
function load(env: NodeJS.ProcessEnv = {}, options: Omit<LoadConfigOptions, 'cwd' | 'env'> = {}) {
  return loadConfig({ cwd, env: { XDG_CONFIG_HOME: xdg, ...env }, ...options });
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(value), 'utf8');
}

/** Runs `fn` and returns the OrcError it throws, failing the test if it throws anything else or nothing. */
function configErrorOf(fn: () => unknown): OrcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OrcError);
    expect((error as OrcError).code).toBe('CONFIG_INVALID');
    expect((error as OrcError).message).not.toContain('\n');
    return error as OrcError;
  }
  throw new Error('expected a CONFIG_INVALID error, but nothing was thrown');
}

describe('loadConfig defaults', () => {
  it('uses current models and the seed defaults when no file or variable is set', () => {
    const { config, apiKey, sources } = load();
    expect(apiKey).toBeUndefined();
    expect(sources).toEqual([]);
    expect(config.models.manager.model).toBe('claude-opus-5-5');
    expect(config.models.worker.model).toBe('claude-sonnet-5-5');
    expect(config.models.provider).toBe('simulated');
    expect(config.models.base_url).toBeUndefined();
    expect(config.models.prices).toEqual(DEFAULT_PRICES);
    expect(config.execution).toMatchObject({
      max_workers: 3,
      worker_timeout: 1800,
      manager_timeout: 300,
      max_retries: 3,
    });
    expect(config.execution.max_cost_usd).toBeUndefined();
    expect(config.monitoring).toEqual({
      progress_interval: 10,
      verbose_logging: false,
      show_progress_bar: true,
    });
  });

  it('resolves the provider to anthropic when an API key is set, and keeps the key out of the config', () => {
    const { config, apiKey } = load({ ANTHROPIC_API_KEY: API_KEY });
    expect(config.models.provider).toBe('anthropic');
    expect(apiKey).toBe(API_KEY);
    expect(JSON.stringify(config)).not.toContain(API_KEY);
  });

  it('reads the API key from .env in the working directory', async () => {
    await writeFile(join(cwd, '.env'), `# comment\nexport ANTHROPIC_API_KEY="${API_KEY}"\n`, 'utf8');
    const { config, apiKey } = load();
    expect(apiKey).toBe(API_KEY);
    expect(config.models.provider).toBe('anthropic');
  });

  it('honours ANTHROPIC_BASE_URL', () => {
    const { config } = load({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080/proxy' });
    expect(config.models.base_url).toBe('http://127.0.0.1:8080/proxy');
  });

  it('accepts provider anthropic without a key when a base URL points at a proxy', () => {
    const { config } = load({ ORC_PROVIDER: 'anthropic', ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080' });
    expect(config.models.provider).toBe('anthropic');
  });

  it('rejects provider anthropic without a key or base URL, naming the fix', () => {
    const error = configErrorOf(() => load({ ORC_PROVIDER: 'anthropic' }));
    expect(error.message).toContain('ANTHROPIC_API_KEY');
    // Where it was chosen: a variable here, not a flag the command may not have.
    expect(error.message).toContain('set it, or set ORC_PROVIDER=simulated');
  });
});

describe('loadConfig layers', () => {
  it('accepts the seed keys exactly as written, plus provider, base_url, max_cost_usd and prices', async () => {
    await writeJson(projectConfigPath, {
      models: {
        provider: 'claude-code',
        base_url: 'https://api.example.test/v1',
        manager: { model: 'manager-x' },
        worker: { model: 'worker-y' },
        prices: { 'worker-y': { input: 1, output: 5, cache_read: 0.1 } },
      },
      execution: {
        max_workers: 7,
        worker_timeout: 60,
        manager_timeout: 30,
        max_retries: 0,
        max_cost_usd: 2.5,
      },
      monitoring: { progress_interval: 2, verbose_logging: true, show_progress_bar: false },
    });
    const { config, sources } = load();
    expect(sources).toEqual([projectConfigPath]);
    expect(config.models.provider).toBe('claude-code');
    expect(config.models.base_url).toBe('https://api.example.test/v1');
    expect(config.models.manager.model).toBe('manager-x');
    expect(config.models.worker.model).toBe('worker-y');
    expect(config.execution).toMatchObject({
      max_workers: 7,
      worker_timeout: 60,
      manager_timeout: 30,
      max_retries: 0,
      max_cost_usd: 2.5,
    });
    expect(config.monitoring).toEqual({
      progress_interval: 2,
      verbose_logging: true,
      show_progress_bar: false,
    });
    // Pricing one more model keeps the built-in prices of the current ones.
    expect(config.models.prices['worker-y']).toEqual({ input: 1, output: 5, cache_read: 0.1 });
    expect(config.models.prices['claude-opus-5-5']).toEqual(DEFAULT_PRICES['claude-opus-5-5']);
  });

  it('applies defaults < user config < orc.config.json < ORC_* variables < overrides', async () => {
    await writeJson(userConfigPath, {
      execution: { max_workers: 2, worker_timeout: 100, manager_timeout: 50, max_retries: 1 },
      monitoring: { progress_interval: 5 },
    });
    await writeJson(projectConfigPath, {
      execution: { max_workers: 4, worker_timeout: 200, manager_timeout: 60 },
    });
    const { config, sources } = load(
      { ORC_MAX_WORKERS: '6', ORC_WORKER_TIMEOUT: '300' },
      { overrides: { execution: { max_workers: 8 } } },
    );
    expect(sources).toEqual([userConfigPath, projectConfigPath]);
    expect(config.execution.max_workers).toBe(8); // overrides
    expect(config.execution.worker_timeout).toBe(300); // ORC_* variable
    expect(config.execution.manager_timeout).toBe(60); // ./orc.config.json
    expect(config.execution.max_retries).toBe(1); // user config
    expect(config.monitoring.progress_interval).toBe(5); // user config
    expect(config.monitoring.show_progress_bar).toBe(true); // default
  });

  it('merges a role key by key, so one layer can change only max_tokens', async () => {
    await writeJson(userConfigPath, { models: { manager: { model: 'manager-x' } } });
    await writeJson(projectConfigPath, {
      models: { manager: { max_tokens: 1000 }, worker: { provider: 'claude-code' } },
    });
    const { config } = load();
    expect(config.models.manager).toEqual({ model: 'manager-x', max_tokens: 1000 });
    expect(config.models.worker).toMatchObject({ model: 'claude-sonnet-5-5', provider: 'claude-code' });
  });

  it('merges the price table per model, a later layer replacing a whole entry', async () => {
    await writeJson(userConfigPath, {
      models: { prices: { a: { input: 1, output: 2, cache_read: 0.5 }, b: { input: 3, output: 4 } } },
    });
    await writeJson(projectConfigPath, { models: { prices: { a: { input: 10, output: 20 } } } });
    const { prices } = load().config.models;
    expect(prices['a']).toEqual({ input: 10, output: 20 });
    expect(prices['b']).toEqual({ input: 3, output: 4 });
    expect(prices['claude-sonnet-5-5']).toEqual(DEFAULT_PRICES['claude-sonnet-5-5']);
  });

  it('maps ORC_* variables to their keys', () => {
    const { config } = load({
      ORC_PROVIDER: 'claude-code',
      ORC_BASE_URL: 'https://orc.example.test',
      ORC_MANAGER_MODEL: 'm',
      ORC_WORKER_MODEL: 'w',
      ORC_MAX_COST_USD: '1.25',
      ORC_MAX_RETRIES: '5',
      ORC_MACHINE_MAX_IN_FLIGHT: '4',
      ORC_VERBOSE: 'true',
    });
    expect(config.models).toMatchObject({ provider: 'claude-code', base_url: 'https://orc.example.test' });
    expect(config.models.manager.model).toBe('m');
    expect(config.models.worker.model).toBe('w');
    expect(config.execution).toMatchObject({ max_cost_usd: 1.25, max_retries: 5, machine_max_in_flight: 4 });
    expect(config.monitoring.verbose_logging).toBe(true);
  });

  it('lets ORC_BASE_URL win over ANTHROPIC_BASE_URL, and a file lose to both', async () => {
    await writeJson(projectConfigPath, { models: { base_url: 'https://file.example.test' } });
    expect(load({ ANTHROPIC_BASE_URL: 'https://anthropic.example.test' }).config.models.base_url).toBe(
      'https://anthropic.example.test',
    );
    expect(
      load({ ANTHROPIC_BASE_URL: 'https://anthropic.example.test', ORC_BASE_URL: 'https://orc.example.test' })
        .config.models.base_url,
    ).toBe('https://orc.example.test');
  });

  it('skips the user config file when asked', async () => {
    await writeJson(userConfigPath, { execution: { max_workers: 9 } });
    const { config, sources } = load({}, { skipUserConfig: true });
    expect(sources).toEqual([]);
    expect(config.execution.max_workers).toBe(3);
  });
});

describe('loadConfig errors', () => {
  it('names the file, the key and the received value for a wrong type', async () => {
    await writeJson(projectConfigPath, { execution: { max_workers: '3' } });
    const { message } = configErrorOf(() => load());
    expect(message).toContain(projectConfigPath);
    expect(message).toContain('execution.max_workers');
    expect(message).toContain('expected number');
    expect(message).toContain('"3"');
  });

  it('names the file and the key for an out-of-range value', async () => {
    await writeJson(userConfigPath, { execution: { max_workers: 0 } });
    const { message } = configErrorOf(() => load());
    expect(message).toContain(userConfigPath);
    expect(message).toContain('execution.max_workers');
    expect(message).toContain('(got 0)');
  });

  it('names the file and the full path of an unknown key', async () => {
    await writeJson(projectConfigPath, { monitoring: { show_progres_bar: true } });
    const { message } = configErrorOf(() => load());
    expect(message).toContain(projectConfigPath);
    expect(message).toContain('unknown config key monitoring.show_progres_bar');
  });

  it('suggests the near key of the same section, or says to check the spelling when none is near', async () => {
    await writeJson(projectConfigPath, { execution: { max_worker: 2 } });
    expect(configErrorOf(() => load()).message).toBe(
      `${projectConfigPath}: unknown config key execution.max_worker; did you mean "max_workers"? (see orc config schema)`,
    );
    await writeJson(projectConfigPath, { models: { manager: { modle: 'claude-opus-5-5' } } });
    expect(configErrorOf(() => load()).message).toContain('models.manager.modle; did you mean "model"?');
    await writeJson(projectConfigPath, { execution: { colour: 'red' } });
    expect(configErrorOf(() => load()).message).toBe(
      `${projectConfigPath}: unknown config key execution.colour; check its spelling (see orc config schema)`,
    );
  });

  it('reports a misspelt required key as unknown rather than as a missing one', async () => {
    await writeJson(projectConfigPath, { models: { manager: { modle: 'claude-opus-5-5' } } });
    const { message } = configErrorOf(() => load());
    expect(message).toContain('unknown config key models.manager.modle');
  });

  it('names a misspelt key of the Redis section, and a wrong backend, in one line', async () => {
    await writeJson(projectConfigPath, { execution: { backend: 'redis' }, redis: { pasword: 'x' } });
    const { message } = configErrorOf(() => load());
    expect(message).toContain('unknown config key redis.pasword');
    expect(message).not.toContain('\n');
    await writeJson(projectConfigPath, { execution: { backend: 'remote' } });
    expect(configErrorOf(() => load()).message).toContain('execution.backend');
  });

  it('names an unknown top-level key', async () => {
    await writeJson(userConfigPath, { exectuion: {} });
    const { message } = configErrorOf(() => load());
    expect(message).toContain(userConfigPath);
    expect(message).toContain('unknown config key exectuion');
  });

  it('names the file for invalid JSON', async () => {
    await writeFile(projectConfigPath, '{ "execution": { "max_workers": 3, } }', 'utf8');
    const { message } = configErrorOf(() => load());
    expect(message).toContain(projectConfigPath);
    expect(message).toContain('not valid JSON');
  });

  it('lists the allowed providers for an unknown one', async () => {
    await writeJson(projectConfigPath, { models: { provider: 'openai' } });
    const { message } = configErrorOf(() => load());
    expect(message).toContain('models.provider');
    expect(message).toContain('"simulated"');
    expect(message).toContain('"openai"');
  });

  it('names the variable for a non-numeric ORC_* number', () => {
    const { message } = configErrorOf(() => load({ ORC_MAX_WORKERS: 'many' }));
    expect(message).toContain('ORC_MAX_WORKERS');
    expect(message).toContain('"many"');
  });

  it('names the layer for a bad ANTHROPIC_BASE_URL', () => {
    const { message } = configErrorOf(() => load({ ANTHROPIC_BASE_URL: 'not a url' }));
    expect(message).toContain('ANTHROPIC_BASE_URL');
    expect(message).toContain('models.base_url');
  });

  it('names the command-line flags for a bad override', () => {
    const { message } = configErrorOf(() => load({}, { overrides: { execution: { max_retries: -1 } } }));
    expect(message).toContain('command-line flags');
    expect(message).toContain('execution.max_retries');
  });

  it.each([
    ['not an Anthropic key', 'hunter2-secret'],
    ['whitespace around it', ` ${API_KEY}\n`],
    ['a bad character', 'sk-ant-api03-abc$defghijklmnopqrstuvwxyz'],
  ])('rejects a malformed API key (%s) without echoing it', (_what, key) => {
    const { message } = configErrorOf(() => load({ ANTHROPIC_API_KEY: key }));
    expect(message).toContain('ANTHROPIC_API_KEY');
    expect(message).not.toContain(key);
    expect(message).not.toContain(key.trim());
  });
});

describe('resolveConfig', () => {
  it('validates each layer on its own, naming its source', () => {
    const config = resolveConfig([{ source: 'a', values: { execution: { max_workers: 2 } } }], false);
    expect(config.execution.max_workers).toBe(2);
    const error = configErrorOf(() => resolveConfig([{ source: 'layer.json', values: [] }], false));
    expect(error.message).toContain('layer.json');
    expect(error.message).toContain('(root)');
  });
});

describe('findConfigProblems', () => {
  it('lists every mistake of every layer, each naming its file or variable and key', async () => {
    await writeJson(userConfigPath, { execution: { max_workers: 0 } });
    await writeJson(projectConfigPath, {
      modles: {},
      execution: { max_workers: 'three', max_retries: -1 },
      monitoring: { verbose: true },
    });
    const { sources, problems } = findConfigProblems({
      cwd,
      env: { XDG_CONFIG_HOME: xdg, ORC_MAX_COST_USD: 'lots' },
    });
    expect(sources).toEqual([userConfigPath, projectConfigPath]);
    expect(problems).toHaveLength(6);
    expect(problems[0]).toBe('environment: ORC_MAX_COST_USD must be a number (got "lots")');
    expect(
      problems.filter((p) => p.startsWith(`${userConfigPath}: config key execution.max_workers`)),
    ).toHaveLength(1);
    for (const [key, near] of [
      ['modles', 'models'],
      ['monitoring.verbose', 'verbose_logging'],
    ])
      expect(problems).toContain(
        `${projectConfigPath}: unknown config key ${key}; did you mean "${near}"? (see orc config schema)`,
      );
    for (const key of ['execution.max_workers', 'execution.max_retries'])
      expect(problems.some((p) => p.startsWith(`${projectConfigPath}: config key ${key} `))).toBe(true);
    // loadConfig stops at the first, and says how many more there are.
    const env = { XDG_CONFIG_HOME: xdg, ORC_MAX_COST_USD: 'lots' };
    expect(() => loadConfig({ cwd, env })).toThrow(OrcError);
    expect(() => loadConfig({ cwd, env })).toThrow(
      'environment: ORC_MAX_COST_USD must be a number (got "lots") (and 5 more: orc config validate lists them)',
    );
  });

  it('finds nothing in a valid configuration, and checks one file alone when asked', async () => {
    await writeJson(projectConfigPath, { execution: { max_workers: 4 } });
    expect(findConfigProblems({ cwd, env: { XDG_CONFIG_HOME: xdg } })).toEqual({
      sources: [projectConfigPath],
      problems: [],
    });
    const broken = join(cwd, 'broken.json');
    await writeFile(broken, '{ "execution": ', 'utf8');
    const one = findConfigProblems({ files: [broken] });
    expect(one.problems).toHaveLength(1);
    expect(one.problems[0]).toMatch(/broken\.json: is not valid JSON .*; fix the syntax$/);
    // V8 quotes the file in its message: neither its lines nor what it holds reach the problem.
    await writeFile(broken, '# settings\napi_key: sk-ant-api03-abcdefghijklmnop\n', 'utf8');
    expect(findConfigProblems({ files: [broken] }).problems).toEqual([
      `${broken}: is not valid JSON (Unexpected token '#'); fix the syntax`,
    ]);
  });
});

describe('what a run sends (set)', () => {
  it('is what this directory, the variables and the flags set, without defaults or the user config', async () => {
    await writeJson(userConfigPath, { models: { provider: 'simulated' }, execution: { max_retries: 7 } });
    await writeJson(projectConfigPath, { execution: { max_workers: 2 } });
    const loaded = load({ ORC_MAX_COST_USD: '3' }, { overrides: { checkpoints: { every_n_tasks: 0 } } });
    // The daemon reads the user config itself, under its own file; sent, it would win over that file.
    expect(loaded.set).toEqual({
      execution: { max_workers: 2, max_cost_usd: 3 },
      checkpoints: { every_n_tasks: 0 },
    });
    expect(loaded.providerChosen).toBe(true);
    await writeJson(userConfigPath, {});
    expect(load().providerChosen).toBe(false);
  });
});
