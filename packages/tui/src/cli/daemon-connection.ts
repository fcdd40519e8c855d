import { createClient, ensureDaemon, type ClientOptions, type OrcClient } from '@orc/daemon/client';

/** Runs `fn` with a client of the daemon, starting the daemon first when none is running. */
export async function withClient<T>(
  fn: (client: OrcClient) => Promise<T>,
  options: Pick<ClientOptions, 'onDisconnect' | 'onReconnect'> = {},
): Promise<T> {
  await ensureDaemon();
  const client = await createClient(options);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
