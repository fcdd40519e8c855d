import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Notification, NotificationChannel } from './notifier.js';

/** `notifications.desktop`: `notify-send`, where it is installed (a Linux desktop); elsewhere nothing. */
export class DesktopChannel implements NotificationChannel {
  readonly name = 'desktop';
  readonly target: string;
  readonly available: boolean;
  private readonly command: string | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.command = findOnPath('notify-send', env['PATH']);
    this.available = this.command !== undefined;
    this.target = this.command ?? 'notify-send (not installed)';
  }

  deliver(notification: Notification, signal: AbortSignal): Promise<void> {
    const command = this.command;
    if (command === undefined) return Promise.reject(new Error('notify-send is not installed'));
    return new Promise<void>((resolve, reject) => {
      execFile(
        command,
        ['--app-name=claude-orchestrator', notification.title, notification.text],
        { signal, timeout: 10_000 },
        (error, _stdout, stderr) => {
          if (!error) return resolve();
          const said = stderr.trim().split('\n').at(-1);
          reject(new Error(`notify-send failed${said ? `: ${said}` : ` (${error.message})`}`));
        },
      );
    });
  }
}

function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}
