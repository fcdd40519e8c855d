import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { bundledClaudeCode, createClient, daemonStatus, type OrcClient } from '@orc/daemon/client';
import {
  loadConfig,
  resolveStateDir,
  type NotificationChannelStatus,
  type RemoteWorkers,
  type RunSummary,
} from '@orc/shared';
import type { Command } from 'commander';
import { plural } from '../screen/format.js';
import { CommandFailed } from './cli-error.js';
import { checkConfigFiles } from './config-checks.js';
import { awaitingRestartText, settingsAwaitingRestart } from './daemon-start-settings.js';
import { type Check, type CheckStatus, checkModels } from './model-checks.js';
import { damagedRunFix, damageFix, damageText, emit } from './output.js';

/** `orc doctor`: what would stop a run from working here, each with the fix. Never starts the daemon. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check node, the state dir, the config, the API key, the daemon and the tools')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const daemon = await checkDaemon();
      const runs = await checkRuns(daemon.running);
      const notifications = await checkNotifications(daemon.running);
      const workers = await checkWorkers(daemon.running);
      const checks = [
        checkNode(),
        checkStateDir(),
        ...checkConfig(daemon.apiKey, daemon.running),
        ...(daemon.startedAt === undefined ? [] : checkDaemonStartSettings(daemon.startedAt)),
        daemon.check,
        ...(daemon.storage ? [daemon.storage] : []),
        ...runs.checks,
        ...workers,
        ...notifications,
        checkTool('git', ['--version']),
        checkClaudeCode(),
      ];
      const ok = checks.every((check) => check.status !== 'fail');
      emit(options, { ok, checks, damagedRuns: runs.damaged }, () =>
        checks.map(
          (c) =>
            `${c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'warn' : 'FAIL'}  ${c.name.padEnd(10)} ${c.detail}`,
        ),
      );
      if (!ok)
        throw new CommandFailed(
          `${plural(checks.filter((c) => c.status === 'fail').length, 'check')} failed`,
        );
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

/** The configuration files and which wins where, then what the daemon will really run (see checkModels). */
function checkConfig(daemonKey: boolean | undefined, daemonRunning: boolean): Check[] {
  const found = checkConfigFiles(daemonRunning);
  if (!found.config) return found.checks;
  return [
    ...found.checks,
    ...checkModels({
      config: found.config,
      providerChosen: found.providerChosen,
      simulatedFix: found.simulatedFix,
      clientKey: found.clientKey,
      daemonKey,
      onPath,
    }),
  ];
}

/** Keys only the daemon decides, set in a file it reads that changed since it started: they wait for a restart. */
function checkDaemonStartSettings(startedAt: string): Check[] {
  return settingsAwaitingRestart(resolveStateDir(), startedAt).map((pending) => ({
    name: 'config',
    status: 'warn',
    detail: awaitingRestartText(pending),
  }));
}

/** The daemon, and whether it has an API key of its own when it runs. Never starts one. */
async function checkDaemon(): Promise<{
  check: Check;
  apiKey: boolean | undefined;
  running: boolean;
  /** When the running daemon started (it read the keys only it decides then). */
  startedAt?: string;
  /** Whether the running daemon can write its state directory (its runs wait when it cannot). */
  storage?: Check;
}> {
  try {
    const status = await daemonStatus();
    if (!status.running) {
      const detail = status.stale
        ? `not running (stale daemon.json of pid ${status.stale.pid}; replaced on start)`
        : 'not running (started on demand)';
      return { check: { name: 'daemon', status: 'ok', detail }, apiKey: undefined, running: false };
    }
    const client = await createClient();
    try {
      const health = await client.trpc.daemon.health.query();
      return {
        check: {
          name: 'daemon',
          status: 'ok',
          detail: `running (pid ${health.pid}, port ${health.port}, ${plural(health.activeRuns, 'live run')})`,
        },
        apiKey: health.apiKey,
        running: true,
        startedAt: status.info.startedAt,
        storage: health.storage.ok
          ? { name: 'storage', status: 'ok', detail: 'the daemon writes its state directory' }
          : { name: 'storage', status: 'fail', detail: health.storage.error },
      };
    } finally {
      await client.close();
    }
  } catch (error) {
    return {
      check: { name: 'daemon', status: 'fail', detail: (error as Error).message },
      apiKey: undefined,
      running: false,
    };
  }
}

/** Whether `command` runs: an executable path, or a name found on the PATH. */
function onPath(command: string): boolean {
  const runnable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return runnable(command);
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && runnable(join(dir, command)));
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

/**
 * The runs as the running daemon found them on disk: damaged ones fail the check (by id, with the file
 * and why), runs rebuilt from damaged files are named. The daemon reads every run when it starts, and
 * every journal through when asked here: a run whose saved state is good (one put back, as a damaged
 * run's fix says) but whose history has a hole ran on with `orc doctor` saying ok while `orc logs`
 * stopped at the hole; it is a warning of its own (`history`), with its fix.
 */
async function checkRuns(running: boolean): Promise<{ checks: Check[]; damaged: string[] }> {
  const { check, damaged, runs } = await damagedRuns(running);
  const histories = runs.filter(
    (run) => run.status !== 'damaged' && run.damage !== undefined && run.damage.rebuiltFrom === undefined,
  );
  return {
    damaged,
    checks: [
      check,
      ...histories.map((run): Check => ({
        name: 'history',
        status: 'warn',
        detail: `run ${run.id}: ${damageText(run.damage!, run.status)}; ${damageFix(run)!}`,
      })),
    ],
  };
}

async function damagedRuns(
  running: boolean,
): Promise<{ check: Check; damaged: string[]; runs: RunSummary[] }> {
  if (!running) {
    return {
      damaged: [],
      runs: [],
      check: {
        name: 'runs',
        status: 'warn',
        detail: 'not checked: the daemon is not running (orc ls starts it)',
      },
    };
  }
  let runs: RunSummary[];
  try {
    const client = await createClient({ connectTimeoutMs: 5_000 });
    try {
      runs = await client.trpc.runs.check.query();
    } finally {
      await client.close();
    }
  } catch (error) {
    return {
      damaged: [],
      runs: [],
      check: { name: 'runs', status: 'fail', detail: (error as Error).message },
    };
  }
  const damaged = runs.filter((run) => run.status === 'damaged');
  const rebuilt = runs.filter((run) => run.status !== 'damaged' && run.damage?.rebuiltFrom !== undefined);
  const rebuiltText =
    rebuilt.length > 0 ? `; rebuilt from damaged files: ${rebuilt.map((run) => run.id).join(', ')}` : '';
  if (damaged.length === 0) {
    return {
      damaged: [],
      runs,
      check: { name: 'runs', status: 'ok', detail: `${plural(runs.length, 'run')}${rebuiltText}` },
    };
  }
  const each = damaged.map((run) => `${run.id} (${run.damage!.file} ${run.damage!.reason})`);
  return {
    damaged: damaged.map((run) => run.id),
    runs,
    check: {
      name: 'runs',
      status: 'fail',
      detail: `${damaged.length} damaged, kept as they are and not run: ${each.join('; ')}; ${damagedFixText(damaged.map((run) => run.id))}${rebuiltText}`,
    },
  };
}

/** What a person can do about damaged runs (as `orc show` says of one). */
function damagedFixText(ids: string[]): string {
  if (ids.length === 1) return damagedRunFix(ids[0]!);
  return `fix: orc rm <run> removes one (orc rm ${ids.join(' ')} removes them all); or put back a good copy of its file and restart the daemon (orc daemon stop, then orc daemon start) to read it again`;
}

/** One question to the running daemon; when it cannot be asked, a warning under `name` says why. */
async function askDaemon<T>(
  name: string,
  ask: (client: OrcClient) => Promise<T>,
): Promise<{ answer: T } | { check: Check }> {
  try {
    const client = await createClient({ connectTimeoutMs: 5_000 });
    try {
      return { answer: await ask(client) };
    } finally {
      await client.close();
    }
  } catch (error) {
    return {
      check: { name, status: 'warn', detail: `could not ask the daemon (${(error as Error).message})` },
    };
  }
}

/**
 * Each notification channel the daemon pushes to: what it delivered, and the last failure if one keeps
 * failing (a warning: a push that fails never stops a run). Asked of the running daemon, which pushes.
 */
async function checkNotifications(running: boolean): Promise<Check[]> {
  if (!running) return [];
  const asked = await askDaemon('notify', (client) => client.trpc.inbox.notifications.query());
  if ('check' in asked) return [asked.check];
  const channels: NotificationChannelStatus[] = asked.answer;
  if (channels.length === 0)
    return [
      { name: 'notify', status: 'ok', detail: 'no command, webhook or desktop configured (notifications)' },
    ];
  return channels.map((channel) => {
    const name = 'notify';
    const target = `${channel.channel} ${channel.target}`;
    if (!channel.available) return { name, status: 'warn', detail: `${target}; nothing is pushed there` };
    const counts = `${channel.delivered} delivered, ${channel.failed} failed${channel.pending > 0 ? `, ${channel.pending} pending` : ''}`;
    const failing =
      channel.lastErrorAt !== undefined &&
      (channel.lastDeliveredAt === undefined || channel.lastErrorAt > channel.lastDeliveredAt);
    if (!failing) return { name, status: 'ok', detail: `${target}: ${counts}` };
    return {
      name,
      status: 'warn',
      detail: `${target}: ${counts}; last failure ${channel.lastErrorAt ?? ''}: ${channel.lastError ?? ''}`,
    };
  });
}

/**
 * On the Redis backend: whether the running daemon reaches its Redis server, and which `orc worker`
 * processes serve its queue (with none, a run's attempts wait). Nothing on the local backend.
 */
async function checkWorkers(running: boolean): Promise<Check[]> {
  if (!running) return [];
  const asked = await askDaemon('workers', (client) => client.trpc.daemon.workers.query());
  if ('check' in asked) return [asked.check];
  const remote: RemoteWorkers | null = asked.answer;
  if (!remote) return [];
  const where = `${remote.url} (queue ${remote.queue})`;
  if (!remote.reachable)
    return [
      {
        name: 'redis',
        status: 'fail',
        detail: `the daemon cannot reach Redis at ${remote.url}; runs wait for it: start the server, or fix redis.url in the daemon's orc.config.json and restart the daemon`,
      },
    ];
  const redis: Check = { name: 'redis', status: 'ok', detail: `the daemon reaches ${where}` };
  if (remote.workers.length === 0)
    return [
      redis,
      {
        name: 'workers',
        status: 'warn',
        detail: `no orc worker serves ${where}: attempts wait until one starts (orc worker --redis ${remote.url})`,
      },
    ];
  const slots = remote.workers.reduce((sum, worker) => sum + worker.concurrency, 0);
  const names = remote.workers.map((worker) => worker.id).join(', ');
  return [
    redis,
    {
      name: 'workers',
      status: 'ok',
      detail: `${remote.workers.length} (${plural(slots, 'attempt')} at once): ${names}`,
    },
  ];
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
