import type { ProviderName, ResolvedConfig } from '@orc/shared';

export type CheckStatus = 'ok' | 'warn' | 'fail';
/** One line of `orc doctor`: what was checked, how it stands, and the fix when it is not ok. */
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** What decides the models a run will really use. */
export interface ModelSetup {
  /** The configuration a run started here gets: the daemon's, with what this directory sets over it. */
  config: ResolvedConfig;
  /** The user chose `models.provider` (flag, ORC_PROVIDER or a config file); else the daemon decides. */
  providerChosen: boolean;
  /** How to run on the simulated model where the provider was chosen (`set ORC_PROVIDER=simulated`…). */
  simulatedFix?: string | undefined;
  /** ANTHROPIC_API_KEY in this shell (or its `.env`). */
  clientKey: boolean;
  /** The running daemon's own key; undefined when none runs (one started now inherits this shell's). */
  daemonKey: boolean | undefined;
  /** Whether a command is on the PATH (the daemon's is this shell's when it starts one). */
  onPath: (command: string) => boolean;
}

/**
 * The provider of each role as the daemon will resolve it, and whether it can work there: the API key
 * lives in the daemon's environment, not the client's, so a key only this shell has does not count.
 */
export function checkModels(setup: ModelSetup): Check[] {
  const { config, providerChosen, clientKey } = setup;
  const daemonKey = setup.daemonKey ?? clientKey;
  const chosen = providerChosen ? config.models.provider : undefined;
  const roles = {
    manager: config.models.manager.provider ?? chosen ?? (daemonKey ? 'anthropic' : 'simulated'),
    worker: config.models.worker.provider ?? chosen ?? (daemonKey ? 'anthropic' : 'simulated'),
  } satisfies Record<string, ProviderName>;
  // On the Redis backend the worker role's calls and agents run at `orc worker`s, with their keys and their
  // Claude Code: the daemon needs neither for them.
  const onWorkers = config.execution.backend === 'redis';
  const providers = [
    ...new Set([roles.manager, ...(onWorkers && roles.worker !== 'simulated' ? [] : [roles.worker])]),
  ];
  const detail =
    roles.manager === roles.worker ? roles.worker : `manager ${roles.manager}, worker ${roles.worker}`;
  const checks: Check[] = [
    {
      name: 'api key',
      status: 'ok',
      detail: `${clientKey ? 'set' : 'not set'} in this shell; ${
        setup.daemonKey === undefined
          ? 'a daemon started from here gets the same'
          : `the running daemon ${setup.daemonKey ? 'has one' : 'has none'}`
      }`,
    },
  ];
  const keyless = clientKey && setup.daemonKey === false;
  for (const provider of providers) {
    if (provider === 'anthropic' && !daemonKey && config.models.base_url === undefined) {
      checks.push({
        name: 'models',
        status: 'fail',
        detail: keyless
          ? 'provider anthropic, but the running daemon was started without ANTHROPIC_API_KEY (only this shell has it): runs would fail; orc daemon stop, then run again from here'
          : `provider anthropic needs ANTHROPIC_API_KEY where the daemon starts; set it, or run offline on the simulated model: ${offlineFix(config, setup.simulatedFix)}`,
      });
    } else if (
      provider === 'claude-code' &&
      // Unset: the Agent SDK's bundled Claude Code, which `orc doctor` checks on its own line.
      config.claude_cli.command !== undefined &&
      !setup.onPath(config.claude_cli.command)
    ) {
      checks.push({
        name: 'models',
        status: 'fail',
        detail: `provider claude-code runs ${config.claude_cli.command}, which is not on the PATH; install Claude Code or set claude_cli.command`,
      });
    } else if (provider === 'simulated' && !chosen) {
      checks.push({
        name: 'models',
        status: 'warn',
        detail: keyless
          ? 'runs will be SIMULATED: this shell has ANTHROPIC_API_KEY but the running daemon was started without it; orc daemon stop, then run again'
          : 'runs will be SIMULATED (offline, no real model): set ANTHROPIC_API_KEY for real ones',
      });
    }
  }
  if (checks.length === 1) {
    const endpoint =
      providers.includes('anthropic') && config.models.base_url ? ` at ${config.models.base_url}` : '';
    checks.push({ name: 'models', status: 'ok', detail: `${detail}${endpoint}` });
  }
  if (onWorkers && roles.worker !== 'simulated')
    checks.push({
      name: 'models',
      status: 'ok',
      detail: `worker ${roles.worker} runs at orc workers (execution.backend "redis"), with their own ${
        roles.worker === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'Claude Code and key'
      }`,
    });
  return checks;
}

/**
 * How to run offline, as commands a person can type: `orc doctor` takes no `--provider` (a trial was told
 * to "choose --provider simulated"), so the flag is given with `orc run`, and the setting where it was chosen.
 */
function offlineFix(config: ResolvedConfig, simulatedFix: string | undefined): string {
  // A role's own provider wins over --provider and models.provider: only changing it helps.
  // The worker role's calls run at the orc workers on the Redis backend, with their own keys.
  const roles = (['manager', 'worker'] as const).filter(
    (role) =>
      config.models[role].provider === 'anthropic' &&
      !(role === 'worker' && config.execution.backend === 'redis'),
  );
  if (roles.length > 0)
    return `set ${roles.map((role) => `models.${role}.provider`).join(' and ')} to "simulated" (the config lines above say which file sets it)`;
  const perRun = 'orc run --provider simulated <goal> for one run';
  const forAll = simulatedFix?.startsWith('set ') === true ? simulatedFix : undefined;
  return forAll === undefined ? perRun : `${perRun}, or ${forAll} for every run`;
}
