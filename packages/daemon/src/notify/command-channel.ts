import { spawn } from 'node:child_process';
import type { Notification, NotificationChannel } from './notifier.js';

/** Stderr kept to say why a command failed. */
const STDERR_TAIL = 2_000;

/**
 * `notifications.command`: run with `sh -c` in a process group of its own, the notification as JSON on
 * its stdin. It succeeded if it exits 0; one that outlives its timeout is killed with its children.
 */
export class CommandChannel implements NotificationChannel {
  readonly name = 'command';
  readonly available = true;
  readonly target: string;

  constructor(
    private readonly command: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.target = command.length > 60 ? `${command.slice(0, 59)}…` : command;
  }

  deliver(notification: Notification, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn('sh', ['-c', this.command], {
        stdio: ['pipe', 'ignore', 'pipe'],
        detached: true,
        env: this.env,
      });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL);
      });
      const kill = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone already
        }
      };
      signal.addEventListener('abort', kill, { once: true });
      child.on('error', (error) => {
        signal.removeEventListener('abort', kill);
        reject(new Error(`sh could not be started: ${error.message}`));
      });
      child.on('close', (code, killedBy) => {
        signal.removeEventListener('abort', kill);
        if (signal.aborted) return reject(signal.reason as Error);
        if (code === 0) return resolve();
        const said = stderr.trim().split('\n').at(-1);
        const how = killedBy ? `was killed by ${killedBy}` : `exited with ${code ?? '?'}`;
        reject(new Error(`the notification command ${how}${said ? `: ${said}` : ''}`));
      });
      // A command that does not read its stdin closes the pipe early: that is not a failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(`${JSON.stringify(notification.payload)}\n`);
    });
  }
}
