import { applyEvents, TASK_PAGE_LIMIT, wantsFreshView, type OrcEvent, type RunView } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createScriptedProvider,
  eventually,
  openTestEngine,
  randomDag,
  type TestEngine,
} from '@orc/test-support';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const SIZE = 1_200;

describe("a large run's view and pages", () => {
  it('carries the first page only, unless asked for everything; pages serve every row', async () => {
    engine = await openTestEngine({
      provider: createScriptedProvider(),
      config: { execution: { max_workers: 8 } },
    });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: randomDag(3, SIZE) });
    await orchestrator.waitForRun(run.id);

    const view = await orchestrator.getRun(run.id);
    expect(view.taskTotal).toBe(SIZE);
    expect(view.tasks.map((t) => t.id)).toEqual(
      Array.from({ length: TASK_PAGE_LIMIT }, (_, i) => `t${i + 1}`),
    );
    // The overview leaves results and outputs out, as before; `full` has them, and every task.
    expect(view.tasks[0]!.result).toBeUndefined();
    const full = await orchestrator.getRun(run.id, { full: true });
    expect(full.tasks).toHaveLength(SIZE);
    expect(full.tasks[SIZE - 1]!.result).toMatch(/t1200/);

    const window = await orchestrator.pageTasks(run.id, { runId: run.id, offset: 1_190, limit: 20 });
    expect(window).toMatchObject({ offset: 1_190, total: SIZE, lastEventId: view.lastEventId });
    expect(window.tasks.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, i) => `t${1_191 + i}`));

    const search = await orchestrator.pageTasks(run.id, {
      runId: run.id,
      offset: 0,
      limit: 50,
      search: 'TASK 11',
    });
    // t11, t110–t119, t1100–t1199: 1 + 10 + 100 matches, the first 50 of them.
    expect(search.total).toBe(111);
    expect(search.tasks).toHaveLength(50);
    expect(search.tasks.every((t) => t.title.startsWith('Task 11'))).toBe(true);

    const done = await orchestrator.pageTasks(run.id, {
      runId: run.id,
      offset: 0,
      limit: 10,
      status: ['done'],
    });
    expect(done.total).toBe(SIZE);
    const none = await orchestrator.pageTasks(run.id, {
      runId: run.id,
      offset: 0,
      limit: 10,
      status: ['failed'],
    });
    expect(none).toMatchObject({ total: 0, tasks: [] });

    const withResults = await orchestrator.pageTasks(run.id, {
      runId: run.id,
      offset: 5,
      limit: 2,
      full: true,
    });
    expect(withResults.tasks.map((t) => t.result)).toEqual([
      expect.stringMatching(/t6/),
      expect.stringMatching(/t7/),
    ]);
  });

  it('lets a client holding a page fold the events to the counts the run ends with', async () => {
    // Slow enough that the client attaches mid-run, with tasks in every state.
    const provider = createScriptedProvider({ latencyMs: 2 });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 8 } } });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: randomDag(5, SIZE) });
    await eventually(
      async () => ((await orchestrator.getRun(run.id)).taskCounts['done'] ?? 0) >= 100,
      'a hundred tasks done',
      30_000,
    );

    let view: RunView = await orchestrator.getRun(run.id);
    expect(view.tasks.length).toBeLessThan(view.taskTotal);
    const events: OrcEvent[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const event of orchestrator.events(run.id, view.lastEventId, abort.signal)) {
        events.push(event);
        if (event.type === 'run.completed') break;
      }
    })();
    await orchestrator.waitForRun(run.id);
    await following;
    abort.abort();

    expect(events.some((e) => wantsFreshView(view, e))).toBe(false);
    view = applyEvents(view, events);
    const final = await orchestrator.getRun(run.id);
    expect(view.taskCounts).toEqual(final.taskCounts);
    expect(view.taskCounts).toEqual({ done: SIZE });
    expect(view.busyWorkers).toBe(0);
    expect(view.status).toBe('completed');
    // The rows it holds are the rows the run has.
    expect(view.tasks.map((t) => [t.id, t.status])).toEqual(final.tasks.map((t) => [t.id, t.status]));
  });
});
