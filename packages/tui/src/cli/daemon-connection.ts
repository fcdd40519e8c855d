import { createClient, ensureDaemon, type OrcClient } from '@orc/daemon/client';

/** Runs `fn` with a client of the daemon, starting the daemon first when none is running. */
export async function withClient<T>(fn: (client: OrcClient) => Promise<T>): Promise<T> {
  await ensureDaemon();
  const client = await createClient();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
