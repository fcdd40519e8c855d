import { createClient, ensureDaemon, type OrcClient } from '@orc/daemon/client';

/** News of the link to the daemon: down (the client reconnects by itself) and back up. */
export class ConnectionWatch {
  private readonly listeners = new Set<(connected: boolean) => void>();

  notify(connected: boolean): void {
    for (const listener of this.listeners) listener(connected);
  }

  watch(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Runs `fn` with a client of the daemon, starting the daemon first when none is running, and news of
 * the connection (the close at the end is not news).
 */
export async function withClient<T>(
  fn: (client: OrcClient, connection: ConnectionWatch) => Promise<T>,
): Promise<T> {
  await ensureDaemon();
  const connection = new ConnectionWatch();
  let closing = false;
  const client = await createClient({
    onDisconnect: () => {
      if (!closing) connection.notify(false);
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
