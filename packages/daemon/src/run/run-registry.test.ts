import { afterEach, describe, expect, it } from 'vitest';
import { openFileRunStore } from '../store/file-run-store.js';
import type { RunStore } from '../store/store.js';
import { ManualClock, createScriptedProvider, eventually, tempHome, testConfig } from '@orc/test-support';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';

/** The file store, telling which runs were loaded and let go. */
function observed(inner: RunStore): RunStore & { loaded: string[]; unloaded: string[] } {
  const loaded: string[] = [];
  const unloaded: string[] = [];
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'loaded') return loaded;
      if (property === 'unloaded') return unloaded;
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'loadRun') loaded.push(args[0] as string);
        if (property === 'unloadRun') unloaded.push(args[0] as string);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return store as RunStore & { loaded: string[]; unloaded: string[] };
}

const TASKS = [
  { id: 'a', title: 'A' },
  { id: 'b', title: 'B', dependencies: ['a'] },
];

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function open(
  home: string,
  store?: RunStore,
  idleMs?: number,
  clock?: ManualClock,
): Promise<Orchestrator> {
  const orchestrator = await createOrchestrator({
    home,
    loaded: testConfig(home, { models: { provider: 'simulated' } }),
    providers: () => createScriptedProvider(),
    retryBaseMs: 1,
    ...(store && { store }),
    ...(idleMs !== undefined && { finishedRunIdleMs: idleMs }),
    ...(clock && { clock }),
  });
  cleanups.push(() => orchestrator.close(0));
  return orchestrator;
}

async function finishedRuns(home: string, count: number): Promise<string[]> {
  const first = await open(home);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const run = await first.startRun({ tasks: TASKS });
    expect((await first.waitForRun(run.id)).status).toBe('completed');
    ids.push(run.id);
  }
  await first.close(0);
  return ids;
}

describe('finished runs stay on disk until a call needs them', () => {
  it('lists them without loading, loads one for a call, and lets it go once unused', async () => {
    const { home, remove } = await tempHome('orc-registry-');
    cleanups.push(remove);
    const [runId] = await finishedRuns(home, 1);
    const store = observed(await openFileRunStore(home));
    // Idle time passes only when the test says so.
    const clock = new ManualClock();
    const orchestrator = await open(home, store, 50, clock);
    /** Moves the clock on by the idle time until the run is let go `times` times. */
    const idleUntilLetGo = (times: number) =>
      eventually(() => {
        clock.advance(50);
        return store.unloaded.filter((id) => id === runId).length >= times;
      }, `the run to be let go (${times})`);

    expect(store.loaded).toEqual([]);
    expect(orchestrator.listRuns()).toMatchObject([
      { id: runId, status: 'completed', taskTotal: 2, taskCounts: { done: 2 } },
    ]);
    expect((await orchestrator.getRun(runId!, { full: true })).tasks.map((t) => t.result)).toEqual([
      'result of a #1',
      'result of b #1',
    ]);
    expect(store.loaded).toEqual([runId]);
    clock.advance(49);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.unloaded).toEqual([]);
    await idleUntilLetGo(1);
    expect(orchestrator.listRuns()).toMatchObject([{ id: runId, status: 'completed' }]);

    // A stream keeps it in memory for as long as it is read.
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of orchestrator.events(runId!, 0, controller.signal)) seen.push(event.type);
    })();
    await eventually(() => seen.includes('run.completed'), 'the replay');
    const unloads = store.unloaded.length;
    clock.advance(60 * 60_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.unloaded).toHaveLength(unloads);
    controller.abort();
    await reading;
    await idleUntilLetGo(2);

    // Given work again, it is loaded, runs, and is let go once it has finished again.
    const checkpoint = await orchestrator.createCheckpoint(runId!);
    await orchestrator.rollback(runId!, checkpoint.id, 'selective', ['b']);
    await orchestrator.resumeRun(runId!);
    expect((await orchestrator.waitForRun(runId!)).status).toBe('completed');
    const view = await orchestrator.getRun(runId!, { full: true });
    expect(view.tasks.find((t) => t.id === 'b')!.attempts).toHaveLength(2);
    const loads = store.loaded.length;
    await idleUntilLetGo(3);
    expect(store.loaded).toHaveLength(loads);
  });

  it('keeps at most two finished runs in memory, however recently used', async () => {
    const { home, remove } = await tempHome('orc-registry-');
    cleanups.push(remove);
    const ids = await finishedRuns(home, 3);
    const store = observed(await openFileRunStore(home));
    const orchestrator = await open(home, store, 60_000);
    for (const id of ids) await orchestrator.getRun(id);
    expect(store.loaded).toEqual(ids);
    await eventually(() => store.unloaded.length === 1, 'the least recently used to go');
    expect(store.unloaded).toEqual([ids[0]]);
  });

  it('lets go of a run that finishes while the daemon runs', async () => {
    const { home, remove } = await tempHome('orc-registry-');
    cleanups.push(remove);
    const store = observed(await openFileRunStore(home));
    const clock = new ManualClock();
    const orchestrator = await open(home, store, 50, clock);
    const run = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    await eventually(() => {
      clock.advance(50);
      return store.unloaded.includes(run.id);
    }, 'the finished run to be let go');
    expect(await orchestrator.getRun(run.id)).toMatchObject({ status: 'completed', taskTotal: 2 });
  });

  it('asks for a garbage collection once a run is let go while no run is active', async () => {
    const { home, remove } = await tempHome('orc-registry-');
    cleanups.push(remove);
    const [finished] = await finishedRuns(home, 1);
    const store = observed(await openFileRunStore(home));
    const clock = new ManualClock();
    const provider = createScriptedProvider();
    let collections = 0;
    const orchestrator = await createOrchestrator({
      home,
      loaded: testConfig(home, { models: { provider: 'simulated' } }),
      providers: () => provider,
      retryBaseMs: 1,
      store,
      finishedRunIdleMs: 50,
      clock,
      collectGarbage: () => collections++,
    });
    cleanups.push(() => orchestrator.close(0));
    const letGo = (runId: string) =>
      eventually(() => {
        clock.advance(50);
        return store.unloaded.includes(runId);
      }, `run ${runId} to be let go`);

    // Let go while another run works: that run's own allocations bring collections.
    provider.hold();
    const active = await orchestrator.startRun({ tasks: TASKS });
    await provider.whenInFlight(1);
    await orchestrator.getRun(finished!);
    await letGo(finished!);
    await new Promise((resolve) => setTimeout(resolve, 50)); // past the turn a collection would come in
    expect(collections).toBe(0);

    provider.release();
    expect((await orchestrator.waitForRun(active.id)).status).toBe('completed');
    await letGo(active.id);
    await eventually(() => collections === 1, 'a collection once nothing is active');
  });
});
