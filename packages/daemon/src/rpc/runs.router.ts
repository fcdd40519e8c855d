import {
  AddTasksInput,
  EventsInput,
  GetRunInput,
  PlanGoalInput,
  RemoveTaskInput,
  ResumeRunInput,
  RunRef,
  StartRunInput,
  UpdateTaskInput,
} from '@orc/shared';
import type { EventBatch } from '@orc/shared';
import { tracked } from '@trpc/server';
import type { EventBatchText } from '../run/event-batch-text.js';
import { share } from './shared-json.js';
import { timedAs } from './timed-deliveries.js';
import { procedure, type RpcContext, router } from './trpc.js';

export const runsRouter = router({
  start: procedure.input(StartRunInput).mutation(({ ctx, input }) => ctx.orchestrator.startRun(input)),
  /** What `start` would run, in order, and what it would hold; nothing is started or written. */
  preview: procedure.input(StartRunInput).query(({ ctx, input }) => ctx.orchestrator.previewRun(input)),
  /** The manager plans a goal (`orc plan`); nothing runs and nothing is written. */
  plan: procedure.input(PlanGoalInput).mutation(({ ctx, input }) => ctx.orchestrator.planGoal(input)),
  list: procedure.query(({ ctx }) => ctx.orchestrator.listRuns()),
  /** Every run, each journal read through first, a hole in one told in its `damage` (`orc doctor`). */
  check: procedure.query(({ ctx, signal }) => ctx.orchestrator.checkRuns(signal)),
  get: procedure
    .input(GetRunInput)
    .query(({ ctx, input }) => ctx.orchestrator.getRun(input.runId, { full: input.full === true })),
  pause: procedure.input(RunRef).mutation(({ ctx, input }) => ctx.orchestrator.pauseRun(input.runId)),
  resume: procedure.input(ResumeRunInput).mutation(({ ctx, input }) =>
    ctx.orchestrator.resumeRun(input.runId, {
      ...(input.maxCostUsd !== undefined && { maxCostUsd: input.maxCostUsd }),
    }),
  ),
  cancel: procedure.input(RunRef).mutation(({ ctx, input }) => ctx.orchestrator.cancelRun(input.runId)),
  /** A person adds tasks to a running plan (ids chosen by the run where none is given); journalled. */
  addTasks: procedure
    .input(AddTasksInput)
    .mutation(({ ctx, input }) => ctx.orchestrator.addTasks(input.runId, input.tasks)),
  /** A person changes a task's title, description, dependencies or priority (not while it is in flight). */
  updateTask: procedure
    .input(UpdateTaskInput)
    .mutation(({ ctx, input }) => ctx.orchestrator.updateTask(input.runId, input.taskId, input.changes)),
  /** A person removes a task; `dependents` says what becomes of the tasks that wait for it. */
  removeTask: procedure
    .input(RemoveTaskInput)
    .mutation(({ ctx, input }) => ctx.orchestrator.removeTask(input.runId, input.taskId, input.dependents)),
  /** Deletes a finished run's files and index entry; a live one is a CONFLICT (cancel it first). */
  remove: procedure.input(RunRef).mutation(async ({ ctx, input }) => {
    await ctx.orchestrator.removeRun(input.runId);
    return { runId: input.runId, removed: true as const };
  }),
  /**
   * Every event of a run after `lastEventId`, then live ones. Each carries its id through `tracked()`, so
   * a client that reconnects resumes exactly after the last event it received.
   */
  events: procedure.input(EventsInput).subscription(({ ctx, input, signal }) => {
    // Opened before the stream starts, so an unknown run is a NOT_FOUND like everywhere else.
    const abort = new AbortController();
    const follow = { resumed: ctx.connection.resumed('runs.events', input.lastEventId) };
    const afterId = parseEventId(input.lastEventId);
    const batches = ctx.orchestrator.eventBatches(input.runId, afterId, abort.signal, follow);
    return streamEvents(ctx, batches, abort, signal);
  }),
  /**
   * The same events in batches (`EventBatch`, at most 1,000 events and 96 KiB of text each: see
   * event-batches.ts): a replay, then each group commit of the journal with the time it was made durable,
   * as the text the journal wrote, the same for every subscriber of the run. Each batch is tracked by its
   * last event's id, so a client that reconnects resumes after the last batch it received. Screens and
   * anything that follows a busy run use this; `events` is the simpler one-event-a-message form.
   */
  eventBatches: procedure.input(EventsInput).subscription(({ ctx, input, signal }) => {
    const abort = new AbortController();
    const follow = { resumed: ctx.connection.resumed('runs.eventBatches', input.lastEventId) };
    const afterId = parseEventId(input.lastEventId);
    const batches = ctx.orchestrator.eventBatches(input.runId, afterId, abort.signal, follow);
    return streamBatches(ctx, batches, abort, signal);
  }),
});

/** The `lastEventId` tRPC hands back on reconnect, as a number (0 from the start). */
export function parseEventId(value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const id = Number(value);
  return Number.isInteger(id) && id >= 0 ? id : 0;
}

async function* streamEvents(
  ctx: RpcContext,
  batches: AsyncIterable<EventBatchText>,
  abort: AbortController,
  signal: AbortSignal | undefined,
) {
  const onAbort = () => abort.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const batch of batches) {
      const events = batch.events;
      for (const [i, event] of events.entries()) {
        if (abort.signal.aborted) return;
        // A client that reads slower than the run gets the rest once its socket drains (see `paced`).
        if (ctx.connection.behind() && !(await ctx.connection.paced())) return;
        if (abort.signal.aborted) return;
        // A live batch's fan-out is timed by its last event, once written (see timed-deliveries.ts).
        yield tracked(String(event.id), i === events.length - 1 ? timedAs(event, batch) : event);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    abort.abort();
  }
}

async function* streamBatches(
  ctx: RpcContext,
  batches: AsyncIterable<EventBatchText>,
  abort: AbortController,
  signal: AbortSignal | undefined,
) {
  const onAbort = () => abort.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const batch of batches) {
      // As for single events: a slow client waits for its socket to drain, where it is.
      if (ctx.connection.behind() && !(await ctx.connection.paced())) return;
      if (abort.signal.aborted) return;
      // Sent as the text the journal wrote: a client reads an EventBatch.
      yield tracked(String(batch.lastId), share<EventBatch>(batch, batch.json));
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    abort.abort();
  }
}
