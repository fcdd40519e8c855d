import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The state directory: `$ORC_HOME`, else `$XDG_STATE_HOME/claude-orchestrator`, else
 * `~/.local/state/claude-orchestrator`.
 */
export function resolveStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['ORC_HOME']) return env['ORC_HOME'];
  if (env['XDG_STATE_HOME']) return join(env['XDG_STATE_HOME'], 'claude-orchestrator');
  return join(homedir(), '.local', 'state', 'claude-orchestrator');
}

/** The user config file: `$XDG_CONFIG_HOME/claude-orchestrator/config.json`, else under `~/.config`. */
export function resolveUserConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  // XDG: an empty value counts as unset.
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'claude-orchestrator', 'config.json');
}

/** The files under a state directory, named once. */
export function statePaths(stateDir: string) {
  return {
    root: stateDir,
    daemon: join(stateDir, 'daemon.json'),
    token: join(stateDir, 'token'),
    log: join(stateDir, 'daemon.log'),
    lock: join(stateDir, 'daemon.lock'),
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
