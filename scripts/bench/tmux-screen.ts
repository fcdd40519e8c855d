import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

/** The built `orc` command, as a user runs it. */
const ORC = join(repositoryRoot(), 'packages', 'tui', 'dist', 'cli', 'main.js');

/** The repository this file is in, whether it runs built (scripts/dist/bench) or from source (scripts/bench). */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'packages', 'tui'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/**
 * `orc attach <run>` in a real terminal: a tmux server of its own (its own socket, so a user's tmux is
 * never touched), one window of `width`×`height`, the screen read back with `capture-pane`. The screen
 * tests have the same under tests/tui; scripts keep their own copy (they do not import tests).
 */
export class TmuxScreen {
  private readonly socket = `orc-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(home: string, runId: string, size = { width: 120, height: 40 }) {
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      TERM: 'xterm-256color',
      ORC_HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
    };
    const vars = Object.entries(env).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`);
    this.tmux(
      'new-session',
      '-d',
      '-s',
      'orc',
      '-x',
      String(size.width),
      '-y',
      String(size.height),
      `env ${vars.join(' ')} '${process.execPath}' '${ORC}' attach ${runId}; sleep 600`,
    );
  }

  static available(): boolean {
    try {
      execFileSync('tmux', ['-V'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /** The screen as text; asynchronous, so the clients measured in this process are not held up. */
  async capture(): Promise<string> {
    const { stdout } = await run(
      'tmux',
      ['-L', this.socket, '-f', '/dev/null', 'capture-pane', '-p', '-t', 'orc'],
      {
        encoding: 'utf8',
      },
    );
    return stdout;
  }

  /** The process id of `orc attach` in the pane (the pane runs a shell that started it). */
  attachPid(): number | undefined {
    const shell = Number(this.tmux('list-panes', '-t', 'orc', '-F', '#{pane_pid}').trim());
    try {
      const children = readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8').trim().split(/\s+/);
      const pid = Number(children[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'orc', ...keys);
  }

  /** Polls the screen as fast as tmux answers until `test` holds; the time it took, or undefined. */
  async waitFor(test: (screen: string) => boolean, timeoutMs: number): Promise<number | undefined> {
    const started = performance.now();
    while (performance.now() - started < timeoutMs) {
      if (test(await this.capture())) return performance.now() - started;
    }
    return undefined;
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }
}
