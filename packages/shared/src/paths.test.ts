import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStateDir, resolveUserConfigPath, statePaths } from './paths.js';

describe('resolveStateDir', () => {
  it('uses ORC_HOME first', () => {
    expect(resolveStateDir({ ORC_HOME: '/tmp/orc-home', XDG_STATE_HOME: '/tmp/xdg-state' })).toBe(
      '/tmp/orc-home',
    );
  });

  it('falls back to XDG_STATE_HOME/claude-orchestrator', () => {
    expect(resolveStateDir({ XDG_STATE_HOME: '/tmp/xdg-state' })).toBe('/tmp/xdg-state/claude-orchestrator');
  });

  it('defaults to ~/.local/state/claude-orchestrator, treating empty variables as unset', () => {
    const expected = join(homedir(), '.local', 'state', 'claude-orchestrator');
    expect(resolveStateDir({})).toBe(expected);
    expect(resolveStateDir({ ORC_HOME: '', XDG_STATE_HOME: '' })).toBe(expected);
  });
});

describe('resolveUserConfigPath', () => {
  it('uses XDG_CONFIG_HOME', () => {
    expect(resolveUserConfigPath({ XDG_CONFIG_HOME: '/tmp/xdg-config' })).toBe(
      '/tmp/xdg-config/claude-orchestrator/config.json',
    );
  });

  it('defaults to ~/.config, also when XDG_CONFIG_HOME is empty', () => {
    const expected = join(homedir(), '.config', 'claude-orchestrator', 'config.json');
    expect(resolveUserConfigPath({})).toBe(expected);
    expect(resolveUserConfigPath({ XDG_CONFIG_HOME: '' })).toBe(expected);
  });
});

describe('statePaths', () => {
  it('names every file under the state directory', () => {
    const paths = statePaths('/s');
    expect(paths).toMatchObject({
      root: '/s',
      daemon: '/s/daemon.json',
      token: '/s/token',
      log: '/s/daemon.log',
      lock: '/s/daemon.lock',
      index: '/s/runs/index.json',
      runs: '/s/runs',
    });
    const run = paths.run('r1');
    expect(run).toMatchObject({
      dir: '/s/runs/r1',
      state: '/s/runs/r1/state.json',
      events: '/s/runs/r1/events.jsonl',
      checkpoints: '/s/runs/r1/checkpoints',
    });
    expect(run.checkpoint('c1')).toBe('/s/runs/r1/checkpoints/c1.json');
  });
});

describe('without an absolute home', () => {
  it('refuses a state directory rather than one relative to the current directory', () => {
    expect(() => resolveStateDir({ HOME: '' })).toThrow(
      'no state directory: ORC_HOME is not set and HOME is empty; set ORC_HOME (or HOME) to an absolute directory',
    );
    expect(() => resolveStateDir({ HOME: 'me' })).toThrow(/HOME is relative \("me"\)/);
    // A relative XDG_STATE_HOME is ignored (the XDG rule), not taken from here.
    expect(() => resolveStateDir({ HOME: '', XDG_STATE_HOME: 'state' })).toThrow(/ORC_HOME/);
  });

  it('takes ORC_HOME, made absolute, and an absolute XDG_STATE_HOME', () => {
    expect(resolveStateDir({ HOME: '', ORC_HOME: 'orc-state' })).toBe(join(process.cwd(), 'orc-state'));
    expect(resolveStateDir({ HOME: '', XDG_STATE_HOME: '/x' })).toBe('/x/claude-orchestrator');
  });

  it('reads no user config file', () => {
    expect(resolveUserConfigPath({ HOME: '' })).toBeUndefined();
    expect(resolveUserConfigPath({ HOME: '', XDG_CONFIG_HOME: '/c' })).toBe(
      '/c/claude-orchestrator/config.json',
    );
  });
});
