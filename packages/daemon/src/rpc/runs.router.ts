import { EventsInput, RunRef, StartRunInput } from '@orc/shared';
import { tracked } from '@trpc/server';
import { procedure, type RpcContext, router } from './trpc.js';

export const runsRouter = router({
  start: procedure.input(StartRunInput).mutation(({ ctx, input }) => ctx.orchestrator.startRun(input)),
  list: procedure.query(({ ctx }) => ctx.orchestrator.listRuns()),
  get: procedure.input(RunRef).query(({ ctx, input }) => ctx.orchestrator.getRun(input.runId)),
  pause: procedure.input(RunRef).mutation(({ ctx, input }) => ctx.orchestrator.pauseRun(input.runId)),
  resume: procedure.input(RunRef).mutation(({ ctx, input }) => ctx.orchestrator.resumeRun(input.runId)),
  cancel: procedure.input(RunRef).mutation(({ ctx, input }) => ctx.orchestrator.cancelRun(input.runId)),
  /**
   * Every event of a run after `lastEventId`, then live ones. Each carries its id through `tracked()`, so
   * a client that reconnects resumes exactly after the last event it received.
   */
  events: procedure.input(EventsInput).subscription(({ ctx, input, signal }) => {
    // Checked before the stream starts, so an unknown run is a NOT_FOUND like everywhere else.
    ctx.orchestrator.getRun(input.runId);
    return streamEvents(ctx, input.runId, parseEventId(input.lastEventId), signal);
  }),
});

function parseEventId(value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const id = Number(value);
  return Number.isInteger(id) && id >= 0 ? id : 0;
}

async function* streamEvents(
  ctx: RpcContext,
  runId: string,
  afterId: number,
  signal: AbortSignal | undefined,
) {
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const event of ctx.orchestrator.events(runId, afterId, abort.signal)) {
      // The ws adapter queues without limit; a client this far behind is dropped and resumes on reconnect.
      if (ctx.bufferedAmount() > ctx.maxBufferedBytes) {
        ctx.dropConnection(`subscriber fell behind (${ctx.bufferedAmount()} bytes queued)`);
        return;
      }
      yield tracked(String(event.id), event);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    abort.abort();
  }
}
