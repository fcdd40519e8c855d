import type { RunStore } from '@orc/daemon';

/** A run store whose document saves stop at `freeze()`, as if the daemon died before writing them. */
export interface FreezableStore extends RunStore {
  freeze(): void;
}

/**
 * Wraps a real store (a file store on a temp home): the journal goes on being appended and fsynced, but
 * once frozen no document reaches the disk, so closing the engine then leaves the files as a daemon
 * killed at `freeze()` would have, its journal ahead of its document.
 */
export function freezableStore(inner: RunStore, frozenFromStart = false): FreezableStore {
  let frozen = frozenFromStart;
  return {
    freeze: () => (frozen = true),
    createRun: (doc) => inner.createRun(doc),
    scheduleSave: (runId, snapshot) => {
      if (!frozen) inner.scheduleSave(runId, snapshot);
    },
    taskChanged: (runId, taskId) => inner.taskChanged(runId, taskId),
    flush: (runId) => inner.flush(runId),
    appendEvents: (runId, events, lines) => inner.appendEvents(runId, events, lines),
    readEvents: (runId, afterId) => inner.readEvents(runId, afterId),
    lastEvent: (runId) => inner.lastEvent(runId),
    journalDamage: (runId) => inner.journalDamage(runId),
    listRuns: () => inner.listRuns(),
    listIndex: () => inner.listIndex(),
    loadRun: (runId) => inner.loadRun(runId),
    probeRun: (runId) => inner.probeRun(runId),
    checkpointIds: (runId) => inner.checkpointIds(runId),
    keepDamagedCopy: (runId) => inner.keepDamagedCopy(runId),
    saveRebuilt: (doc) => inner.saveRebuilt(doc),
    stateFile: (runId) => inner.stateFile(runId),
    unloadRun: (runId) => inner.unloadRun(runId),
    writeCheckpoint: (info, doc) => inner.writeCheckpoint(info, doc),
    readCheckpoint: (runId, id) => inner.readCheckpoint(runId, id),
    removeRun: (runId) => inner.removeRun(runId),
    onWriteFailure: (listener) => inner.onWriteFailure(listener),
    probeWrite: (runId) => inner.probeWrite(runId),
    close: () => inner.close(),
  };
}
