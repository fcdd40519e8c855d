import { AnswerInput, InboxEventsInput, InboxListInput, type InboxEvent } from '@orc/shared';
import { tracked } from '@trpc/server';
import { parseEventId } from './runs.router.js';
import { procedure, type RpcContext, router } from './trpc.js';

/** What waits for a person, answered from anywhere: the CLI, the terminal UI, a script. */
export const inboxRouter = router({
  /** The open items (with `all`, the recently closed too); `lastEventId` is where `events` goes on from. */
  list: procedure.input(InboxListInput).query(({ ctx, input }) => ctx.orchestrator.listInbox(input ?? {})),
  /** NOT_FOUND for an unknown or closed item, BAD_REQUEST for a choice it does not offer. */
  answer: procedure.input(AnswerInput).mutation(({ ctx, input }) =>
    ctx.orchestrator.answerInbox(input.itemId, {
      choice: input.choice,
      ...(input.note !== undefined && { note: input.note }),
      ...(input.budgetUsd !== undefined && { budgetUsd: input.budgetUsd }),
    }),
  ),
  /**
   * Every item opened, pushed and closed after `lastEventId`, then live ones; each carries its id through
   * `tracked()`, so a client that reconnects goes on after the last event it received.
   */
  events: procedure.input(InboxEventsInput).subscription(({ ctx, input, signal }) => {
    const abort = new AbortController();
    const events = ctx.orchestrator.inboxEvents(parseEventId(input.lastEventId), abort.signal);
    return streamInbox(ctx, events, abort, signal);
  }),
  /** What became of the notifications pushed so far, per channel (for `orc doctor`). */
  notifications: procedure.query(({ ctx }) => ctx.orchestrator.notificationStatus()),
});

async function* streamInbox(
  ctx: RpcContext,
  events: AsyncIterable<InboxEvent>,
  abort: AbortController,
  signal: AbortSignal | undefined,
) {
  const onAbort = () => abort.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const event of events) {
      if (ctx.connection.behind() && !(await ctx.connection.paced())) return;
      if (abort.signal.aborted) return;
      yield tracked(String(event.id), event);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    abort.abort();
  }
}
