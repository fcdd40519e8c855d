import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDaemonSetting, keysOf, resolveUserConfigPath } from '@orc/shared';

/** A config file the daemon reads that changed after it started, and the keys in it it reads only then. */
export interface SettingsAwaitingRestart {
  file: string;
  keys: string[];
}

/**
 * The daemon reads its config files (the user config, its `orc.config.json`) afresh for each new run,
 * but the keys only it decides (port, backend, machine-wide cap…) only when it starts: those a file
 * changed since then sets, so `orc config show` and `orc doctor` can say they wait for a restart.
 */
export function settingsAwaitingRestart(home: string, startedAt: string): SettingsAwaitingRestart[] {
  const since = Date.parse(startedAt);
  const files = [resolveUserConfigPath(), join(home, 'orc.config.json')].filter(
    (file): file is string => file !== undefined,
  );
  return [...new Set(files)].flatMap((file) => {
    let values: unknown;
    try {
      if (!(statSync(file).mtimeMs > since)) return [];
      values = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return []; // absent, or malformed: the checks of the file itself say so
    }
    const keys = keysOf(values).filter(isDaemonSetting);
    return keys.length > 0 ? [{ file, keys }] : [];
  });
}

/** The line a user reads for one such file. */
export function awaitingRestartText({ file, keys }: SettingsAwaitingRestart): string {
  return (
    `${file} sets ${keys.join(', ')}, read only when the daemon starts: the running daemon started before ` +
    `this file changed; orc daemon stop, then any command, to apply`
  );
}
