import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { bundledClaudeCode, daemonStatus } from '@orc/daemon/client';
import { loadConfig, resolveStateDir } from '@orc/shared';
import type { Command } from 'commander';
import { CommandFailed } from './cli-error.js';
import { emit } from './output.js';

type CheckStatus = 'ok' | 'warn' | 'fail';
interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** `orc doctor`: what would stop a run from working here, each with the fix. Never starts the daemon. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check node, the state dir, the config, the API key, the daemon and the tools')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const checks = [
        checkNode(),
        checkStateDir(),
        ...checkConfig(),
        await checkDaemon(),
        checkTool('git', ['--version']),
        checkClaudeCode(),
      ];
      const ok = checks.every((check) => check.status !== 'fail');
      emit(options, { ok, checks }, () =>
        checks.map(
          (c) =>
            `${c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'warn' : 'FAIL'}  ${c.name.padEnd(10)} ${c.detail}`,
        ),
      );
      if (!ok) throw new CommandFailed(`${checks.filter((c) => c.status === 'fail').length} check(s) failed`);
    });
}

function checkNode(): Check {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > 20 || (major === 20 && minor >= 19);
  return {
    name: 'node',
    status: ok ? 'ok' : 'fail',
    detail: ok ? process.version : `${process.version}; install Node 20.19 or later`,
  };
}

function checkStateDir(): Check {
  const home = resolveStateDir();
  try {
    const stat = statSync(home);
    accessSync(home, constants.W_OK);
    const open = (stat.mode & 0o077) !== 0;
    return {
      name: 'state dir',
      status: open ? 'warn' : 'ok',
      detail: open ? `${home} is readable by others; chmod 700 ${home}` : home,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { name: 'state dir', status: 'ok', detail: `${home} (created on first start)` };
    return {
      name: 'state dir',
      status: 'fail',
      detail: `${home} is not writable (${(error as Error).message})`,
    };
  }
}

function checkConfig(): Check[] {
  try {
    const loaded = loadConfig();
    const provider = loaded.config.models.provider;
    return [
      {
        name: 'config',
        status: 'ok',
        detail: loaded.sources.length ? loaded.sources.join(', ') : 'defaults',
      },
      {
        name: 'api key',
        status: loaded.apiKey ? 'ok' : 'warn',
        detail: loaded.apiKey
          ? `set; provider ${provider}`
          : `ANTHROPIC_API_KEY not set: runs use the SIMULATED provider (provider ${provider})`,
      },
    ];
  } catch (error) {
    return [{ name: 'config', status: 'fail', detail: (error as Error).message }];
  }
}

async function checkDaemon(): Promise<Check> {
  try {
    const status = await daemonStatus();
    if (status.running)
      return {
        name: 'daemon',
        status: 'ok',
        detail: `running (pid ${status.info.pid}, port ${status.info.port})`,
      };
    return {
      name: 'daemon',
      status: 'ok',
      detail: status.stale
        ? `not running (stale daemon.json of pid ${status.stale.pid}; replaced on start)`
        : 'not running (started on demand)',
    };
  } catch (error) {
    return { name: 'daemon', status: 'fail', detail: (error as Error).message };
  }
}

/** The Claude Code the claude-code provider runs: `claude_cli.command` when set, else the SDK's own. */
function checkClaudeCode(): Check {
  let command: string | undefined;
  try {
    command = loadConfig().config.claude_cli.command;
  } catch {
    // The config check reports it.
  }
  if (command !== undefined) {
    const check = checkTool(command, ['--version']);
    return { ...check, name: 'claude', detail: `${check.detail} (claude_cli.command)` };
  }
  const bundled = bundledClaudeCode();
  if (bundled.path === undefined) {
    return {
      name: 'claude',
      status: 'warn',
      detail: `${bundled.package} is not installed (needed only for the claude-code provider); run npm install without --omit=optional, or set claude_cli.command`,
    };
  }
  const check = checkTool(bundled.path, ['--version']);
  return { ...check, name: 'claude', detail: `${check.detail} (bundled with the Agent SDK)` };
}

function checkTool(command: string, args: string[], missing: CheckStatus = 'warn'): Check {
  try {
    const version = execFileSync(command, args, {
      encoding: 'utf8',
      timeout: 5_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return { name: command, status: 'ok', detail: version.split('\n')[0] ?? '' };
  } catch {
    return {
      name: command,
      status: missing,
      detail: `${command} not found on PATH${command === 'claude' ? ' (needed only for the claude-code provider)' : ''}`,
    };
  }
}
