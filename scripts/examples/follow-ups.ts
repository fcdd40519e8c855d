/**
 * Grows a running plan: starts a run, and as each of its tasks starts, adds a follow-up task that checks
 * its work once it is done (`runs.addTasks`, a dependency on the task, a low priority). Waits for the run
 * and prints its tasks. Usage: node scripts/dist/examples/follow-ups.js "<goal>"
 */
import { createClient, ensureDaemon } from '@orc/daemon/client';

const goal = process.argv.slice(2).join(' ') || 'write three haiku about the sea';
await ensureDaemon();
const client = await createClient();
try {
  const run = await client.trpc.runs.start.mutate({ goal });
  console.log(`started ${run.id}${run.models.simulated ? ' (SIMULATED)' : ''}`);
  const followUps = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    const sub = client.trpc.runs.events.subscribe(
      { runId: run.id },
      {
        onData: ({ data: event }) => {
          // A task that has just started keeps the run executing: the follow-up is added before it can end.
          if (event.type === 'task.assigned' && event.attempt === 1 && !followUps.has(event.taskId)) {
            const id = `check-${event.taskId}`;
            followUps.add(id);
            client.trpc.runs.addTasks
              .mutate({
                runId: run.id,
                tasks: [
                  {
                    id,
                    title: `Check the work of ${event.taskId}`,
                    description: `Read what ${event.taskId} produced and list anything wrong with it.`,
                    dependencies: [event.taskId],
                    priority: 'low',
                  },
                ],
              })
              .then(
                (added) => console.log(`added ${added.added.join(', ')}`),
                (error: unknown) => console.error(`could not add ${id}: ${String(error)}`),
              );
          }
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
      tasks: final.tasks.map((task) => ({
        id: task.id,
        status: task.status,
        dependencies: task.dependencies,
      })),
    }),
  );
  if (final.status !== 'completed') process.exitCode = 1;
} finally {
  await client.close();
}
