import { resolveConfig, type ConfigInput } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { checkModels, type ModelSetup } from './model-checks.js';

const config = (values: ConfigInput, key = false) => resolveConfig([{ source: 'test', values }], key);
const setup = (over: Partial<ModelSetup>): ModelSetup => ({
  config: config({}),
  providerChosen: false,
  clientKey: false,
  daemonKey: undefined,
  onPath: () => true,
  ...over,
});
const models = (checks: ReturnType<typeof checkModels>) => checks.filter((c) => c.name === 'models');

describe('checkModels', () => {
  it('warns that runs are simulated when no key is anywhere, and is fine with the simulated model chosen', () => {
    expect(models(checkModels(setup({})))).toEqual([
      expect.objectContaining({
        status: 'warn',
        detail: expect.stringMatching(/^runs will be SIMULATED/) as string,
      }),
    ]);
    const chosen = setup({ config: config({ models: { provider: 'simulated' } }), providerChosen: true });
    expect(models(checkModels(chosen))).toEqual([{ name: 'models', status: 'ok', detail: 'simulated' }]);
  });

  it('sees a key only this shell has: simulated runs by default, failing ones with anthropic chosen', () => {
    const keyless = { clientKey: true, daemonKey: false };
    expect(models(checkModels(setup({ ...keyless, config: config({}, true) })))[0]).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('the running daemon was started without it') as string,
    });
    const anthropic = setup({
      ...keyless,
      config: config({ models: { provider: 'anthropic' } }, true),
      providerChosen: true,
    });
    expect(models(checkModels(anthropic))[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('only this shell has it') as string,
    });
    // Without a key anywhere, the fix is commands a person can type: orc doctor takes no --provider.
    const noKey = (where: string) =>
      models(checkModels({ ...anthropic, clientKey: false, daemonKey: false, simulatedFix: where }))[0];
    expect(noKey('set ORC_PROVIDER=simulated')).toEqual({
      name: 'models',
      status: 'fail',
      detail:
        'provider anthropic needs ANTHROPIC_API_KEY where the daemon starts; set it, or run offline on the simulated model: orc run --provider simulated <goal> for one run, or set ORC_PROVIDER=simulated for every run',
    });
    expect(noKey('use --provider simulated')?.detail).toMatch(
      /run offline on the simulated model: orc run --provider simulated <goal> for one run$/,
    );
    // A role's own provider wins over --provider: the fix is that setting.
    const manager = setup({
      config: config({ models: { provider: 'simulated', manager: { provider: 'anthropic' } } }),
      providerChosen: true,
    });
    expect(models(checkModels(manager))[0]?.detail).toMatch(
      /run offline on the simulated model: set models\.manager\.provider to "simulated" \(the config lines above say which file sets it\)$/,
    );
    // A daemon started from this shell would get the key: fine.
    expect(models(checkModels({ ...anthropic, daemonKey: undefined }))[0]).toMatchObject({ status: 'ok' });
  });

  it('checks a claude command of the user’s own for a claude-code role, per role', () => {
    const mixed = setup({
      config: config({
        models: { provider: 'simulated', worker: { provider: 'claude-code' } },
        claude_cli: { command: 'claude' },
      }),
      providerChosen: true,
      onPath: (command) => command !== 'claude',
    });
    expect(models(checkModels(mixed))).toEqual([
      expect.objectContaining({
        status: 'fail',
        detail: expect.stringMatching(
          /^provider claude-code runs claude, which is not on the PATH/,
        ) as string,
      }),
    ]);
    expect(models(checkModels({ ...mixed, onPath: () => true }))).toEqual([
      { name: 'models', status: 'ok', detail: 'manager simulated, worker claude-code' },
    ]);
    // Without one, the provider runs the Agent SDK's bundled Claude Code (orc doctor checks it apart).
    const bundled = setup({
      config: config({ models: { provider: 'simulated', worker: { provider: 'claude-code' } } }),
      providerChosen: true,
      onPath: () => false,
    });
    expect(models(checkModels(bundled))).toEqual([
      { name: 'models', status: 'ok', detail: 'manager simulated, worker claude-code' },
    ]);
  });

  it("leaves the worker role to the orc workers on the Redis backend: their keys, not the daemon's", () => {
    const redis = (worker: 'anthropic' | 'claude-code') =>
      setup({
        config: config({
          execution: { backend: 'redis' },
          redis: { url: 'redis://127.0.0.1:6379' },
          models: { manager: { provider: 'simulated' }, worker: { provider: worker } },
        }),
      });
    expect(models(checkModels(redis('anthropic')))).toEqual([
      expect.objectContaining({
        status: 'warn',
        detail: expect.stringMatching(/^runs will be SIMULATED/) as string,
      }),
      {
        name: 'models',
        status: 'ok',
        detail:
          'worker anthropic runs at orc workers (execution.backend "redis"), with their own ANTHROPIC_API_KEY',
      },
    ]);
    const agents = checkModels({ ...redis('claude-code'), onPath: () => false });
    expect(models(agents).map((c) => c.status)).toEqual(['warn', 'ok']);
    // On the local backend the same worker role needs the daemon's key.
    const local = setup({
      config: config({ models: { manager: { provider: 'simulated' }, worker: { provider: 'anthropic' } } }),
    });
    expect(models(checkModels(local)).map((c) => c.status)).toContain('fail');
  });
});
