import { ZERO_USAGE, type OrcEvent } from '@orc/shared';
import type { RunDocument } from '../store/run-document.js';
import { DocumentFold, RebuildImpossible } from './document-fold.js';

export { RebuildImpossible } from './document-fold.js';

export interface RebuildSource {
  /** A copy of the document to start from (a checkpoint), or undefined to start from `run.created`. */
  base: RunDocument | undefined;
  /** The journal's events after the base's last one (all of them without a base), in order. */
  events: AsyncIterable<OrcEvent>;
  /** A checkpoint the journal rolls back to. */
  readCheckpoint: (checkpointId: string) => Promise<RunDocument>;
}

/**
 * A run's document rebuilt from a checkpoint (or nothing) and the journal's events after it, for a run
 * whose `state.json` is lost or damaged. Every event that changes the document is applied: the plan,
 * each task's moves and attempts, what attempts cost, pauses and budgets, checkpoints, rollbacks, the
 * end of the run. What no event records is not recovered: the cost of the manager's calls after the base
 * (plans, reviews, the final review), merge-conflict reworks, a failed run's final review. The run
 * machine's snapshot is made for the status the journal ends in.
 */
export async function rebuildRunDocument(runId: string, source: RebuildSource): Promise<RunDocument> {
  let fold = source.base ? new DocumentFold(source.base) : undefined;
  for await (const event of source.events) {
    if (!fold) {
      fold = new DocumentFold(createdDocument(runId, event));
      continue;
    }
    await fold.apply(event, source.readCheckpoint);
  }
  if (!fold) throw new RebuildImpossible('the journal has no event');
  return fold.finish();
}

/** The document a run starts with, as its `run.created` event records it (throws RebuildImpossible). */
export function documentFromCreated(runId: string, event: OrcEvent): RunDocument {
  return new DocumentFold(createdDocument(runId, event)).finish();
}

/** The run as `run.created` records it, with the setup the journal alone rebuilds it from. */
function createdDocument(runId: string, event: OrcEvent): RunDocument {
  if (event.type !== 'run.created') {
    throw new RebuildImpossible(`the journal starts with ${event.type}, not run.created`);
  }
  const { setup } = event;
  if (!setup) {
    throw new RebuildImpossible(
      "its run.created event has no setup (a journal written before runs recorded it), so the run's configuration is unknown",
    );
  }
  return {
    version: 1,
    id: runId,
    goal: event.goal,
    status: 'analyzing',
    models: event.models,
    config: setup.config,
    createdAt: event.at,
    updatedAt: event.at,
    tasks: [],
    importedTasks: setup.importedTasks,
    heldTasks: setup.heldTasks ?? {},
    ...(setup.source && { source: setup.source }),
    ...(setup.workspace && { workspace: setup.workspace }),
    usage: ZERO_USAGE,
    costUsd: 0,
    lastEventId: event.id,
    checkpoints: [],
    tasksDoneSinceCheckpoint: 0,
  };
}
