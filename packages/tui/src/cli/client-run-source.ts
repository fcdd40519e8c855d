import type { OrcClient } from '@orc/daemon/client';
import type { RunSource } from '../screen/run-source.js';
import type { ConnectionWatch } from './daemon-connection.js';

/** The attach screen's view of the daemon, through the typed client. */
export function clientRunSource(client: OrcClient, connection?: ConnectionWatch): RunSource {
  const { trpc } = client;
  return {
    ...(connection && { watchConnection: (onChange) => connection.watch(onChange) }),
    listRuns: () => trpc.runs.list.query(),
    getRun: (runId) => trpc.runs.get.query({ runId }),
    pageTasks: (runId, query) => trpc.tasks.page.query({ ...query, runId }),
    getTask: (runId, taskId) => trpc.tasks.get.query({ runId, taskId }),
    follow(runId, afterId, onEvent, onError) {
      const subscription = trpc.runs.events.subscribe(
        { runId, lastEventId: afterId > 0 ? String(afterId) : null },
        { onData: ({ data }) => onEvent(data), onError },
      );
      return () => subscription.unsubscribe();
    },
    pause: (runId) => trpc.runs.pause.mutate({ runId }),
    resume: (runId) => trpc.runs.resume.mutate({ runId }),
    cancel: (runId) => trpc.runs.cancel.mutate({ runId }),
    retry: (runId, taskId) => trpc.tasks.retry.mutate({ runId, taskId }),
    skip: (runId, taskId) => trpc.tasks.skip.mutate({ runId, taskId }),
    checkpoint: (runId, label) =>
      trpc.checkpoints.create.mutate({ runId, ...(label !== undefined && { label }) }),
    listCheckpoints: (runId) => trpc.checkpoints.list.query({ runId }),
    rollback: (runId, checkpointId, strategy, tasks) =>
      trpc.checkpoints.rollback.mutate({
        runId,
        checkpointId,
        strategy,
        ...(tasks !== undefined && { tasks }),
      }),
  };
}
