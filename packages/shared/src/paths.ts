import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { OrcError } from './errors.js';

/**
 * The state directory, always absolute: `$ORC_HOME` (a relative one taken from the current directory, so
 * the daemon it starts finds the same place), else `$XDG_STATE_HOME/claude-orchestrator` (the XDG rule:
 * a relative value is ignored), else `~/.local/state/claude-orchestrator`. Without any of them (HOME
 * empty or relative, as under some service managers) it refuses: a state directory relative to wherever
 * orc happens to run would scatter runs and daemons across directories.
 */
export function resolveStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['ORC_HOME']) return resolve(env['ORC_HOME']);
  const xdg = env['XDG_STATE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'claude-orchestrator');
  const home = homeDir(env);
  if (home === undefined)
    throw new OrcError(
      'CONFIG_INVALID',
      `no state directory: ORC_HOME is not set and HOME is ${env['HOME'] ? `relative (${JSON.stringify(env['HOME'])})` : 'empty'}; set ORC_HOME (or HOME) to an absolute directory`,
    );
  return join(home, '.local', 'state', 'claude-orchestrator');
}

/**
 * The user config file: `$XDG_CONFIG_HOME/claude-orchestrator/config.json`, else under `~/.config`;
 * undefined without an absolute home (no user config is read rather than one relative to here).
 */
export function resolveUserConfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  // XDG: an empty value counts as unset, and a relative one is ignored.
  const xdg = env['XDG_CONFIG_HOME'];
  const home = homeDir(env);
  const base = xdg && isAbsolute(xdg) ? xdg : home !== undefined ? join(home, '.config') : undefined;
  return base === undefined ? undefined : join(base, 'claude-orchestrator', 'config.json');
}

/** The home directory when it is absolute: `env.HOME` when set (even empty), else the system's. */
function homeDir(env: NodeJS.ProcessEnv): string | undefined {
  const home = env['HOME'] ?? homedir();
  return isAbsolute(home) ? home : undefined;
}

/** The files under a state directory, named once. */
export function statePaths(stateDir: string) {
  return {
    root: stateDir,
    daemon: join(stateDir, 'daemon.json'),
    token: join(stateDir, 'token'),
    log: join(stateDir, 'daemon.log'),
    lock: join(stateDir, 'daemon.lock'),
    /** Its time is until when the daemon was last known alive (`alive-mark.ts`). */
    alive: join(stateDir, 'daemon.alive'),
    /** What waits for a person: every open inbox item, the recently closed ones, the waits per run. */
    inbox: join(stateDir, 'inbox.json'),
    index: join(stateDir, 'runs', 'index.json'),
    runs: join(stateDir, 'runs'),
    /** Attempt worktrees of repository runs: `worktrees/<repo-id>/<runId>/<task>/attempt-<n>`. */
    worktrees: join(stateDir, 'worktrees'),
    run: (runId: string) => {
      const dir = join(stateDir, 'runs', runId);
      return {
        dir,
        state: join(dir, 'state.json'),
        events: join(dir, 'events.jsonl'),
        checkpoints: join(dir, 'checkpoints'),
        checkpoint: (id: string) => join(dir, 'checkpoints', `${id}.json`),
      };
    },
  };
}
export type StatePaths = ReturnType<typeof statePaths>;
