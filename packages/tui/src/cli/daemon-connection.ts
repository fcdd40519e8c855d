import { existsSync } from 'node:fs';
import { CLOSE_CLIENT_BEHIND, createClient, ensureDaemon, type OrcClient } from '@orc/daemon/client';
import { resolveStateDir, statePaths } from '@orc/shared';

/**
 * News of the link to the daemon: down (the client reconnects by itself) and back up, each once. The
 * client reports a close for every reconnect attempt that fails (seven in four seconds, measured), so
 * only a change of state is news.
 */
export class ConnectionWatch {
  private readonly listeners = new Set<(connected: boolean) => void>();
  private connected = true;

  notify(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    for (const listener of this.listeners) listener(connected);
  }

  watch(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Starts the daemon when none answers. A restart says so in one line on stderr (the output stays clean):
 * one found dead (its runs were cut off, and resume now), or one stopped before (its log is there); the
 * first start in a state directory is the one the README announces, and says nothing.
 */
async function startDaemonIfNeeded(): Promise<void> {
  const ranBefore = existsSync(statePaths(resolveStateDir()).log);
  await ensureDaemon({
    onStarted: (info, dead) => {
      if (dead !== undefined)
        process.stderr.write(
          `orc: the daemon (pid ${dead.pid}) had died; started a new one (pid ${info.pid}), and the runs it held go on\n`,
        );
      else if (ranBefore)
        process.stderr.write(`orc: the daemon was not running; started it (pid ${info.pid})\n`);
    },
  });
}

/**
 * Runs `fn` with a client of the daemon, starting the daemon first when none is running, and news of
 * the connection (the close at the end is not news).
 */
export async function withClient<T>(
  fn: (client: OrcClient, connection: ConnectionWatch) => Promise<T>,
): Promise<T> {
  await startDaemonIfNeeded();
  const connection = new ConnectionWatch();
  let closing = false;
  const client = await createClient({
    // A subscriber the daemon dropped for falling behind (a replay of 10 MB events) reconnects at once
    // and resumes after its last event: the daemon was never lost, and saying so alarmed for nothing.
    onDisconnect: ({ code }) => {
      if (!closing && code !== CLOSE_CLIENT_BEHIND) connection.notify(false);
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
