import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { TmuxPane } from './tmux.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/** The built `orc` the screen tests run. */
export const ORC = path.join(ROOT, 'packages/tui/dist/cli/main.js');

/**
 * What every screen test stands on: a state directory of its own (`ORC_HOME`) and a working directory
 * (the same one when `shared`), the built `orc` run in them, terminals in tmux panes, and a cleanup
 * that kills the panes, stops the daemon `orc` started and removes both directories.
 */
export class ScreenSandbox {
  readonly home: string;
  readonly work: string;
  private readonly panes: TmuxPane[] = [];

  /** `env`: more variables for `orc` and the terminals (TZ, an API key). */
  constructor(
    prefix: string,
    private readonly options: { shared?: boolean; env?: Record<string, string> } = {},
  ) {
    this.home = mkdtempSync(path.join(os.tmpdir(), `orc-${prefix}-home-`));
    this.work = options.shared ? this.home : mkdtempSync(path.join(os.tmpdir(), `orc-${prefix}-work-`));
  }

  /** Runs the built `orc` in the working directory; its stdout, or a throw on a non-zero exit. */
  cli(...args: string[]): string {
    return execFileSync('node', [ORC, ...args], {
      cwd: this.work,
      env: { ...process.env, ORC_HOME: this.home, NO_COLOR: '1', ...this.options.env },
      encoding: 'utf8',
    });
  }

  /** Starts a detached run and returns its id. */
  start(what: string): string {
    return (JSON.parse(this.cli('run', what, '--detach', '--json')) as { id: string }).id;
  }

  /** `orc.config.json` in the working directory. */
  writeConfig(config: unknown): void {
    this.write('orc.config.json', config);
  }

  /** A JSON file in the working directory. */
  write(name: string, value: unknown): void {
    writeFileSync(path.join(this.work, name), JSON.stringify(value));
  }

  /** `command` in a new terminal (a tmux pane), in the working directory. */
  terminal(command: string, size: { width?: number; height?: number } = {}): TmuxPane {
    const pane = new TmuxPane(command, {
      cwd: this.work,
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: this.home, ...this.options.env },
      ...size,
    });
    this.panes.push(pane);
    return pane;
  }

  /** `orc attach <run>` in a new terminal. */
  attach(runId: string): TmuxPane {
    return this.terminal(`node ${ORC} attach ${runId}`);
  }

  cleanup(): void {
    for (const pane of this.panes.splice(0)) pane.kill();
    try {
      this.cli('daemon', 'stop');
    } catch {
      // not running
    }
    rmSync(this.home, { recursive: true, force: true });
    if (this.work !== this.home) rmSync(this.work, { recursive: true, force: true });
  }
}

/** Fails at once, saying what to do, where tmux or the build a screen test needs is missing. */
export function expectScreenTools(built = ORC): void {
  expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
  expect(existsSync(built), `${built} is missing; run npm run build first`).toBe(true);
}
