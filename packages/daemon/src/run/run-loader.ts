import type { RunDamage } from '@orc/shared';
import type { Logger } from 'pino';
import { isDamagedFileError, type DamagedFileError } from '../store/damaged-file-error.js';
import type { KeptRunDocument } from '../store/run-document.js';
import type { RunStore } from '../store/store.js';
import {
  RebuildImpossible,
  documentFromCreated,
  rebuildRunDocument,
  type RebuildSource,
} from './rebuild-run.js';

/**
 * A run's document to restore the run from, or why there is none: the run is `damaged`, and `known` is
 * the best that could be read of it (a checkpoint, or what `run.created` says), to show it by.
 */
export type LoadedRun = { doc: KeptRunDocument } | { damage: RunDamage; known?: KeptRunDocument };

/**
 * Reads a run's document for the engine, never losing a run to a damaged file. A good `state.json` is
 * caught up with what the journal holds past it (the daemon can die after an event is journalled and
 * before a document with its change is saved), by the same fold that rebuilds a damaged one. A missing, empty, cut or invalid one is rebuilt from the newest checkpoint that can be
 * read and the journal after it (or from the journal alone), written in its place with a copy of the
 * damaged file kept beside it, and the damage recorded in the document. When neither can rebuild it
 * (the journal has a hole or a damaged line, or starts without the run's setup), the run is damaged: the
 * reason and the file are returned and nothing of the run is written.
 */
export async function loadRunDocument(
  store: RunStore,
  runId: string,
  context: { now: string; logger: Logger },
): Promise<LoadedRun> {
  let problem: DamagedFileError;
  let saved: KeptRunDocument;
  try {
    saved = await store.loadRun(runId);
  } catch (error) {
    if (!isDamagedFileError(error)) throw error;
    problem = error;
    return rebuild(store, runId, problem, context);
  }
  return catchUp(store, saved, context);
}

/** The saved document with the journal's events past it applied; a journal damaged there damages the run. */
async function catchUp(
  store: RunStore,
  saved: KeptRunDocument,
  context: { now: string; logger: Logger },
): Promise<LoadedRun> {
  const runId = saved.id;
  const events = store.readEvents(runId, saved.lastEventId);
  const readCheckpoint = (checkpointId: string) => store.readCheckpoint(runId, checkpointId);
  try {
    const doc = await rebuildRunDocument(
      runId,
      { base: saved, events, readCheckpoint },
      { keepSnapshot: true },
    );
    return { doc };
  } catch (error) {
    if (isDamagedFileError(error))
      return { damage: { file: error.file, reason: error.reason, at: context.now }, known: saved };
    if (!(error instanceof RebuildImpossible)) throw error;
    // An older journal rolls back to a checkpoint that cannot be read: the run goes on from before it.
    context.logger.warn({ runId, reason: error.message }, 'the journal past the saved run cannot be applied');
    return { doc: saved };
  }
}

/** A damaged document rebuilt from a checkpoint and the journal, or the journal alone. */
async function rebuild(
  store: RunStore,
  runId: string,
  problem: DamagedFileError,
  context: { now: string; logger: Logger },
): Promise<LoadedRun> {
  await store.unloadRun(runId);

  let known: KeptRunDocument | undefined;
  const damaged = (why: string): LoadedRun => ({
    ...(known && { known }),
    damage: {
      file: problem.file,
      reason:
        why === problem.message
          ? problem.reason // the journal itself is what is damaged
          : `${problem.reason}; the run cannot be rebuilt: ${why}`,
      at: context.now,
    },
  });
  let journalLast: number;
  try {
    journalLast = (await store.lastEvent(runId))?.id ?? 0;
  } catch (error) {
    return damaged(messageOf(error));
  }
  const readCheckpoint = (checkpointId: string) => store.readCheckpoint(runId, checkpointId);
  const tried: string[] = [];
  const bases: { from: string; base: () => Promise<KeptRunDocument | undefined> }[] = [
    ...(await store.checkpointIds(runId)).map((id) => ({
      from: `checkpoint ${id} and the journal`,
      base: () => readCheckpoint(id),
    })),
    { from: 'the journal alone', base: () => Promise.resolve(undefined) },
  ];
  for (const { from, base: read } of bases) {
    let base: KeptRunDocument | undefined;
    try {
      base = await read();
    } catch (error) {
      tried.push(messageOf(error));
      continue;
    }
    // Shown by if the run turns out damaged; its tasks are not, being those of an older state.
    if (base) known ??= { ...base, tasks: [] };
    // A checkpoint records the id of the last event handed out, which a crash may have kept off disk.
    if (base) base.lastEventId = Math.min(base.lastEventId, journalLast);
    const source: RebuildSource = {
      base,
      events: store.readEvents(runId, base?.lastEventId ?? 0),
      readCheckpoint,
    };
    let doc: KeptRunDocument;
    try {
      doc = await rebuildRunDocument(runId, source);
    } catch (error) {
      // A damaged journal stops every rebuild: each one reads it past the damage.
      if (isDamagedFileError(error)) return damaged(error.message);
      if (!(error instanceof RebuildImpossible)) throw error;
      tried.push(`from ${from}: ${error.message}`);
      continue;
    }
    const keptAs = await store.keepDamagedCopy(runId);
    doc.damage = {
      file: problem.file,
      reason: problem.reason,
      rebuiltFrom: from,
      ...(keptAs !== undefined && { keptAs }),
      at: context.now,
    };
    await store.saveRebuilt(doc);
    context.logger.warn({ runId, damage: doc.damage }, 'rebuilt a run whose document was damaged');
    return { doc };
  }
  known ??= await documentFromJournal(store, runId);
  return damaged(tried.join('; ') || 'nothing to rebuild it from');
}

/** What the journal's first event says of the run, if it can be read. */
async function documentFromJournal(store: RunStore, runId: string): Promise<KeptRunDocument | undefined> {
  try {
    for await (const event of store.readEvents(runId, 0)) return documentFromCreated(runId, event);
  } catch {
    // Nothing more to show the run by.
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
