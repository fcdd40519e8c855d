import { existsSync } from 'node:fs';
import {
  CLOSE_CLIENT_BEHIND,
  CLOSE_DAEMON_STOPPED,
  createClient,
  ensureDaemon,
  type OrcClient,
} from '@orc/daemon/client';
import { resolveStateDir, statePaths } from '@orc/shared';

/**
 * What a listener hears: the link is up again, or down; `stopped` when the daemon said it was stopped on
 * purpose (`orc daemon stop`), which is not to be undone by starting it again, unlike a daemon that died.
 */
export type LinkListener = (connected: boolean, stopped: boolean) => void;

/**
 * News of the link to the daemon: down (the client reconnects by itself) and back up, each once. The
 * client reports a close for every reconnect attempt that fails (seven in four seconds, measured), so
 * only a change of state is news: the first close says how the daemon went.
 */
export class ConnectionWatch {
  private readonly listeners = new Set<LinkListener>();
  private connected = true;

  /**
   * `startDaemon`: starts the daemon when none answers, as a command does, resolving with what it did to
   * say (undefined when one was running): the screen calls it when the link drops, so a daemon that died
   * under it comes back without another `orc` command.
   */
  constructor(readonly startDaemon?: () => Promise<string | undefined>) {}

  notify(connected: boolean, stopped = false): void {
    if (connected === this.connected) return;
    this.connected = connected;
    for (const listener of this.listeners) listener(connected, !connected && stopped);
  }

  watch(listener: LinkListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Starts the daemon when none answers, resolving with what a restart has to say (a command says it in one
 * line on stderr, so the output stays clean; the screen on its event pane): one found dead (its runs were
 * cut off, and resume now), or one stopped before (its log is there); the first start in a state
 * directory is the one the README announces, and says nothing.
 */
async function startDaemonIfNeeded(): Promise<string | undefined> {
  const ranBefore = existsSync(statePaths(resolveStateDir()).log);
  let said: string | undefined;
  await ensureDaemon({
    onStarted: (info, dead) => {
      if (dead !== undefined)
        said = `the daemon (pid ${dead.pid}) had died; started a new one (pid ${info.pid}), and the runs it held go on`;
      else if (ranBefore) said = `the daemon was not running; started it (pid ${info.pid})`;
    },
  });
  return said;
}

/**
 * Runs `fn` with a client of the daemon, starting the daemon first when none is running, and news of
 * the connection (the close at the end is not news).
 */
export async function withClient<T>(
  fn: (client: OrcClient, connection: ConnectionWatch) => Promise<T>,
): Promise<T> {
  const said = await startDaemonIfNeeded();
  if (said !== undefined) process.stderr.write(`orc: ${said}\n`);
  const connection = new ConnectionWatch(startDaemonIfNeeded);
  let closing = false;
  const client = await createClient({
    // A subscriber the daemon dropped for falling behind (a replay of 10 MB events) reconnects at once
    // and resumes after its last event: the daemon was never lost, and saying so alarmed for nothing.
    onDisconnect: ({ code }) => {
      if (!closing && code !== CLOSE_CLIENT_BEHIND) connection.notify(false, code === CLOSE_DAEMON_STOPPED);
    },
    onReconnect: () => {
      if (!closing) connection.notify(true);
    },
  });
  try {
    return await fn(client, connection);
  } finally {
    closing = true;
    await client.close();
  }
}
