import type { OrcEvent } from '@orc/shared';
import type { KeptRunDocument } from '../store/run-document.js';
import { DocumentFold, RebuildImpossible, type ReadCheckpoint } from './document-fold.js';

export { RebuildImpossible } from './document-fold.js';

export interface RebuildSource {
  /** A copy of the document to start from (the saved one, a checkpoint), or undefined to start from `run.created`. */
  base: KeptRunDocument | undefined;
  /** The journal's events after the base's last one (all of them without a base), in order. */
  events: AsyncIterable<OrcEvent>;
  /** A checkpoint the journal rolls back to (read only for rollbacks from before events carried their records). */
  readCheckpoint: ReadCheckpoint;
}

export interface RebuildOptions {
  /**
   * Keep the base's run snapshot unless the events moved the run itself (another status or pause, a
   * plan, a rollback begun, done or failed): a run caught up after a crash goes on in the state it was
   * saved in. Without it the snapshot is always made for where the journal leaves the run (a rebuild
   * from a checkpoint or from nothing).
   */
  keepSnapshot?: boolean;
}

/**
 * A run's document folded forward with the journal's events after it (DocumentFold, on the fold clients
 * keep their view with), so the daemon and its clients read the journal alike. It restores a run whose
 * document lags its journal (the daemon died before its last save) and rebuilds one whose `state.json` is
 * lost or damaged, from a checkpoint or from `run.created` alone. Every event that changes the document
 * is applied; the damage a run was once rebuilt from is not an event, and is not recovered.
 */
export async function rebuildRunDocument(
  runId: string,
  source: RebuildSource,
  options: RebuildOptions = {},
): Promise<KeptRunDocument> {
  let fold = source.base ? new DocumentFold(source.base) : undefined;
  for await (const event of source.events) {
    if (!fold) {
      fold = DocumentFold.fromCreated(runId, event);
      continue;
    }
    await fold.apply(event, source.readCheckpoint);
  }
  if (!fold) throw new RebuildImpossible('the journal has no event');
  return fold.finish(options.keepSnapshot === true && source.base !== undefined);
}

/** The document a run starts with, as its `run.created` event records it (throws RebuildImpossible). */
export function documentFromCreated(runId: string, event: OrcEvent): KeptRunDocument {
  return DocumentFold.fromCreated(runId, event).finish(false);
}
