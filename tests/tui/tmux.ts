import { execFileSync } from 'node:child_process';

/**
 * A real terminal for the screen tests: a tmux server of its own (its own socket, so a user's tmux is
 * never touched), one window, the command under test in it.
 */
export class TmuxPane {
  private readonly socket = `orc-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    command: string,
    options: { cwd: string; env: Record<string, string>; width?: number; height?: number },
  ) {
    const env = Object.entries(options.env).map(([k, v]) => `${k}=${shellQuote(v)}`);
    // Keep the window after the command exits so its last words can be read.
    this.tmux(
      'new-session',
      '-d',
      '-s',
      'orc',
      '-x',
      String(options.width ?? 120),
      '-y',
      String(options.height ?? 40),
      '-c',
      options.cwd,
      `env ${env.join(' ')} ${command}; echo "[exit $?]"; sleep 600`,
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

  capture(): string {
    return this.tmux('capture-pane', '-p', '-t', 'orc');
  }

  /** The pane with the lines the terminal wrapped joined back, their spaces kept (`-J`). */
  captureJoined(): string {
    return this.tmux('capture-pane', '-p', '-J', '-t', 'orc');
  }

  /** A tmux format of the window, such as `#{window_bell_flag}` (1 once the program rang the bell). */
  format(format: string): string {
    return this.tmux('display-message', '-p', '-t', 'orc', format).trim();
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'orc', ...keys);
  }

  resize(width: number, height: number): void {
    this.tmux('resize-window', '-t', 'orc', '-x', String(width), '-y', String(height));
  }

  /** Polls the pane until `test` holds; fails with the last screen when it does not in time. */
  async waitFor(test: (screen: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.capture();
      if (test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; the pane shows:\n${screen}`);
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

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
