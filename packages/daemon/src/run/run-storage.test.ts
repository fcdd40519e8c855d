import type { OrcEvent, RunSummary } from '@orc/shared';
import { createScriptedProvider, eventually, readJournal, tempHome, testConfig } from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import { openFileRunStore, type FileRunStore } from '../store/file-run-store.js';
import type { RunStore } from '../store/store.js';
import { writeFailureOf, type WriteFailure } from '../store/write-failure.js';

/**
 * The file store, with a disk that fills at the instant the test picks: journal appends and write probes
 * fail with ENOSPC until `free()`. A stand-in for the one thing a real full disk cannot be made to do,
 * fill at an exact moment of a run; the real one (a tmpfs) is tests/daemon/full-disk.test.ts.
 */
function fillable(inner: FileRunStore): RunStore & { fill(): void; free(): void } {
  let full = false;
  const listeners = new Set<(failure: WriteFailure) => void>();
  const noSpace = (file: string, runId: string) => {
    const error = Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
    for (const listener of listeners) listener(writeFailureOf(file, error, runId));
    return error;
  };
  const overrides: Partial<RunStore> & { fill(): void; free(): void } = {
    fill: () => (full = true),
    free: () => (full = false),
    appendEvents: (runId, events, lines) =>
      full
        ? Promise.reject(noSpace(`runs/${runId}/events.jsonl`, runId))
        : inner.appendEvents(runId, events, lines),
    probeWrite: (runId) =>
      full ? Promise.reject(new Error('ENOSPC: no space left on device')) : inner.probeWrite(runId),
    onWriteFailure: (listener) => {
      listeners.add(listener);
      const off = inner.onWriteFailure(listener);
      return () => {
        listeners.delete(listener);
        off();
      };
    },
  };
  return new Proxy(inner, {
    get(target, key, receiver) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- plain functions, no `this`
      if (key in overrides) return overrides[key as keyof typeof overrides];
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as RunStore & { fill(): void; free(): void };
}

const TASKS = Array.from({ length: 24 }, (_, i) => ({ id: `t${i + 1}`, title: `task ${i + 1}` }));
const completions = (events: OrcEvent[]) => events.filter((e) => e.type === 'task.completed');

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('a disk that takes no writes', () => {
  it('pauses every run at once with why, reports done only what is on disk, and goes on by itself when it is back', async () => {
    const { home, remove } = await tempHome('orc-storage-');
    cleanups.push(remove);
    const provider = createScriptedProvider({ latencyMs: (call) => (call.purpose === 'work' ? 15 : 0) });
    const store = fillable(await openFileRunStore(home));
    const orchestrator: Orchestrator = await createOrchestrator({
      home,
      store,
      loaded: testConfig(home, { execution: { max_workers: 3 }, checkpoints: { every_n_tasks: 0 } }),
      providers: () => provider,
      retryBaseMs: 1,
    });
    cleanups.push(() => orchestrator.close(0));
    const first = await orchestrator.startRun({ tasks: TASKS });
    const second = await orchestrator.startRun({ tasks: TASKS });
    await eventually(
      async () => completions(await readJournal(home, first.id)).length >= 4,
      'four tasks of the first run done',
    );

    // Only the first run's journal fails; the second is paused all the same.
    store.fill();
    const pausedForDisk = (run: RunSummary) => run.status === 'paused' && run.pauseReason === 'storage';
    await eventually(() => orchestrator.listRuns().every(pausedForDisk), 'both runs paused for storage');
    for (const run of orchestrator.listRuns())
      expect(run.pauseMessage).toMatch(
        /^no space left on the device \(ENOSPC\): cannot write .*events\.jsonl;/,
      );

    // Dispatch stopped: no attempt starts while the disk is full (those in flight may end).
    const started = provider.callsFor('work').length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(provider.callsFor('work').length).toBeLessThanOrEqual(started);
    // What a client is told is done is on disk.
    for (const run of orchestrator.listRuns()) {
      const onDisk = completions(await readJournal(home, run.id)).length;
      expect(run.taskCounts['done'] ?? 0, `run ${run.id}`).toBe(onDisk);
    }

    store.free();
    for (const run of [first, second]) {
      const summary = await orchestrator.waitForRun(run.id);
      expect(summary.status).toBe('completed');
      const events = await readJournal(home, run.id);
      // Every task done once, the ids without a gap, the pause and the resumption told.
      expect(
        completions(events)
          .map((e) => e.taskId)
          .sort(),
      ).toEqual(TASKS.map((t) => t.id).sort());
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.some((e) => e.type === 'run.paused' && e.reason === 'storage')).toBe(true);
      expect(events.some((e) => e.type === 'run.resumed')).toBe(true);
    }
  });
});
