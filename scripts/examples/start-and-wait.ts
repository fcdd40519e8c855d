/**
 * Starts a run on the daemon (starting the daemon if needed) and waits for it to finish, printing one
 * line per task as it completes. Usage: node scripts/dist/examples/start-and-wait.js "<goal>"
 */
import { createClient, ensureDaemon } from '@orc/daemon/client';

const goal = process.argv.slice(2).join(' ') || 'write three haiku about the sea';
await ensureDaemon();
const client = await createClient();
try {
  const run = await client.trpc.runs.start.mutate({ goal });
  console.log(`started ${run.id}${run.models.simulated ? ' (SIMULATED)' : ''}`);
  await new Promise<void>((resolve, reject) => {
    const sub = client.trpc.runs.events.subscribe(
      { runId: run.id },
      {
        onData: ({ data: event }) => {
          if (event.type === 'task.completed') console.log(`done ${event.taskId}`);
          if (
            event.type === 'run.completed' ||
            event.type === 'run.failed' ||
            event.type === 'run.cancelled'
          ) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: reject,
      },
    );
  });
  const final = await client.trpc.runs.get.query({ runId: run.id });
  console.log(
    JSON.stringify({
      id: final.id,
      status: final.status,
      simulated: final.models.simulated,
      tasks: final.taskTotal,
    }),
  );
  if (final.status !== 'completed') process.exitCode = 1;
} finally {
  await client.close();
}
