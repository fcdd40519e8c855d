import { applyEvents, wantsFreshView, type OrcEvent, type RunView } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createScriptedProvider,
  eventually,
  foldJournal,
  readJournal,
  tempHome,
  testConfig,
} from '@orc/test-support';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import { openFileRunStore } from '../store/file-run-store.js';
import type { RunStore } from '../store/store.js';

const TASKS = [
  { id: 'a', title: 'A', description: 'first' },
  { id: 'b', title: 'B', description: 'after a', dependencies: ['a'] },
];

/**
 * The real file store, whose journal append carrying a's completion is held at a gate, or fails with every
 * append after it. A stand-in for the disk: a real one cannot be made to hold the one fsync that carries
 * a given event, or to fail from it on (tests/daemon/full-disk.test.ts fills a real one).
 */
class GatedJournal {
  readonly store: RunStore;
  /** Whether a's completion reached an append (held or failing). */
  completionOffered = false;
  /** What happens to the append carrying a's completion, and to what follows it. */
  mode: 'hold' | 'fail' | 'write' = 'write';
  private failing = false;
  private open = () => {};

  constructor(inner: RunStore) {
    this.store = new Proxy(inner, {
      get: (target, property) => {
        if (property === 'appendEvents')
          return (runId: string, events: readonly OrcEvent[]) => this.append(target, runId, events);
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** The held append goes on; failing ones are written again. */
  release(): void {
    this.mode = 'write';
    this.failing = false;
    this.open();
  }

  private async append(inner: RunStore, runId: string, events: readonly OrcEvent[]): Promise<void> {
    if (events.some((e) => e.type === 'task.completed' && e.taskId === 'a') && this.mode !== 'write') {
      this.completionOffered = true;
      if (this.mode === 'hold') await new Promise<void>((resolve) => (this.open = resolve));
      else this.failing = true;
    }
    if (this.failing) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    await inner.appendEvents(runId, events);
  }
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** A run of a then b whose journal is gated (`mode`) from the start. */
async function startRun(mode: GatedJournal['mode']): Promise<{
  orchestrator: Orchestrator;
  journal: GatedJournal;
  runId: string;
  home: string;
}> {
  const { home, remove } = await tempHome('orc-view-on-disk-');
  cleanups.push(remove);
  const journal = new GatedJournal(await openFileRunStore(home));
  journal.mode = mode;
  const provider = createScriptedProvider();
  const orchestrator = await createOrchestrator({
    home,
    store: journal.store,
    loaded: testConfig(home, { models: { provider: 'simulated' }, execution: { max_workers: 1 } }),
    providers: () => provider,
    retryBaseMs: 1,
  });
  cleanups.push(() => {
    journal.release();
    return orchestrator.close(0);
  });
  const { id: runId } = await orchestrator.startRun({ tasks: TASKS });
  return { orchestrator, journal, runId, home };
}

describe("a client's view while events are on their way to disk", () => {
  it('shows exactly the events up to its lastEventId, so following from there ends where the run ends', async () => {
    const { orchestrator, journal, runId, home } = await startRun('hold');
    await eventually(() => journal.completionOffered, "a's completion on its way to disk", 10_000);

    // Asked while a's completion is written: answered once it is on disk, as of the events it shows.
    const viewing = orchestrator.getRun(runId);
    const paging = orchestrator.pageTasks(runId, { runId, offset: 0, limit: 10 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    journal.release();
    let view: RunView = await viewing;
    const journalUpTo = async (id: number) =>
      foldJournal(
        runId,
        (await readJournal(home, runId)).filter((e) => e.id <= id),
      );
    const asOfJournal = await journalUpTo(view.lastEventId);
    expect(view.taskCounts).toEqual(asOfJournal.taskCounts);
    expect(view.tasks.map((t) => [t.id, t.status])).toEqual(asOfJournal.tasks.map((t) => [t.id, t.status]));
    expect(view.unconfirmed).toBeUndefined();
    const page = await paging;
    expect(page.tasks.map((t) => [t.id, t.status])).toEqual(
      (await journalUpTo(page.lastEventId)).tasks.map((t) => [t.id, t.status]),
    );

    const events: OrcEvent[] = [];
    const abort = new AbortController();
    for await (const event of orchestrator.events(runId, view.lastEventId, abort.signal)) {
      events.push(event);
      if (event.type === 'run.completed') break;
    }
    abort.abort();
    expect(events.some((e) => wantsFreshView(view, e))).toBe(false);
    view = applyEvents(view, events);
    expect(view.taskCounts).toEqual({ done: 2 });
    expect(view.status).toBe('completed');
  });

  it('answers at once while the journal cannot be written, naming the tasks it holds back', async () => {
    const { orchestrator, journal, runId } = await startRun('fail');
    await eventually(() => journal.completionOffered, "a's completion failing to reach the disk", 10_000);
    await eventually(
      async () => (await orchestrator.getRun(runId)).unconfirmed !== undefined,
      'the view to hold a back',
      5_000,
    );

    const started = Date.now();
    const view = await orchestrator.getRun(runId);
    expect(Date.now() - started).toBeLessThan(1_000);
    // The run went on in memory (b may be done too): nothing it did since is shown done.
    expect(view.unconfirmed).toContain('a');
    for (const id of view.unconfirmed!) expect(view.tasks.find((t) => t.id === id)?.status).toBe('reviewing');
    expect(view.taskCounts['done']).toBeUndefined();
    // The completion is before the view's lastEventId: a client fetches the view again on the next event.
    const next = { id: view.lastEventId + 1, runId, at: view.updatedAt, type: 'run.resumed' } as OrcEvent;
    expect(wantsFreshView(view, next)).toBe(true);

    journal.release();
    await eventually(
      async () => (await orchestrator.getRun(runId)).taskCounts['done'] === 2,
      'the run done once the disk takes writes',
      15_000,
    );
    expect((await orchestrator.getRun(runId)).unconfirmed).toBeUndefined();
  });
});
