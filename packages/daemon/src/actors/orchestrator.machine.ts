import { assign, enqueueActions, fromPromise, setup, stopChild, type AnyActorRef } from 'xstate';
import { notProvidedActor } from './not-provided.js';

export type OrchestratorEvent =
  /** A run actor was made (started or restored) as a child of this one. */
  | { type: 'run.opened'; runId: string; ref: AnyActorRef }
  /** A run is let go of: its actor stops, its files stay. */
  | { type: 'run.released'; runId: string }
  /**
   * A write of the state directory failed (a full disk, a size limit, an I/O error): one run's failed
   * write means the disk fails them all, so every run pauses until a write goes through again.
   */
  | { type: 'storage.failed'; message: string }
  /** The daemon stops: every run gets `graceMs` for what is in flight, then everything is saved. */
  | { type: 'daemon.close'; graceMs: number };

export interface OrchestratorContext {
  /** The run actors, by run id: the children of the daemon's actor tree. */
  runs: Record<string, AnyActorRef>;
}

/**
 * The daemon's root actor (the supervisor): the run actors are its children, and it decides when the
 * daemon takes runs (open) and when it winds them down (closing → closed). Machine-wide parts live
 * beside it, made by create-orchestrator and handed to every run: the quota governor (quota/), which
 * admits every model call of every run against the API's limits and the cap on calls in flight.
 */
export const orchestratorMachine = setup({
  types: {
    context: {} as OrchestratorContext,
    events: {} as OrchestratorEvent,
  },
  actors: {
    /** Closes every run (each saves the state it was in), then the providers and the store. */
    closeRuns: fromPromise<void, { graceMs: number }>(notProvidedActor('actor closeRuns')),
  },
}).createMachine({
  id: 'orchestrator',
  context: { runs: {} },
  initial: 'open',
  states: {
    open: {
      on: {
        'run.opened': {
          actions: assign({ runs: ({ context, event }) => ({ ...context.runs, [event.runId]: event.ref }) }),
        },
        'run.released': {
          actions: [
            stopChild(({ context, event }) => context.runs[event.runId]!),
            assign({
              runs: ({ context, event }) => {
                const { [event.runId]: _released, ...rest } = context.runs;
                return rest;
              },
            }),
          ],
        },
        'storage.failed': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            for (const run of Object.values(context.runs))
              enqueue.sendTo(run, { type: 'run.storage_failed', message: event.message });
          }),
        },
        'daemon.close': 'closing',
      },
    },
    closing: {
      invoke: {
        src: 'closeRuns',
        input: ({ event }) => ({ graceMs: event.type === 'daemon.close' ? event.graceMs : 0 }),
        onDone: 'closed',
        onError: 'closed',
      },
    },
    closed: { type: 'final' },
  },
});
