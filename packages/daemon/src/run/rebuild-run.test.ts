import { type OrcEvent, type Usage } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { openFileRunStore, type FileRunStore } from '../store/file-run-store.js';
import { join } from 'node:path';
import { TaskText, recordOfTask, type KeptRunDocument } from '../store/run-document.js';
import { readRunFolder } from '../store/run-document-file.js';
import { createScriptedProvider, openTestEngine, type TestEngine } from '@orc/test-support';
import { RebuildImpossible, rebuildRunDocument } from './rebuild-run.js';

const WORK_USAGE: Usage = { inputTokens: 1000, outputTokens: 400, cacheReadTokens: 0, cacheWriteTokens: 0 };
const MANAGER_USAGE: Usage = {
  inputTokens: 3000,
  outputTokens: 200,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};
const TASKS = [
  { id: 'a', title: 'A' },
  { id: 'b', title: 'B', dependencies: ['a'] },
  { id: 'c', title: 'C' },
  { id: 'd', title: 'D', dependencies: ['c'] },
];

let engine: TestEngine | undefined;
let store: FileRunStore | undefined;
afterEach(async () => {
  await store?.close();
  await engine?.close();
  engine = store = undefined;
});

/**
 * A run with a bit of everything the journal tells: a rework, a retried transient failure, a task that
 * fails the run and is retried, a manual checkpoint and a selective rollback, to the end.
 */
async function eventfulRun(): Promise<{ home: string; runId: string; saved: KeptRunDocument }> {
  const provider = createScriptedProvider({
    // The manager's plans and reviews cost too: the journal prices them only in the run's spend (`spent`).
    usage: (call) => (call.purpose === 'work' ? WORK_USAGE : MANAGER_USAGE),
    work: (call) => {
      if (call.taskId === 'c' && call.n === 1) throw new ModelError('transient', 'overloaded');
      if (call.taskId === 'd' && call.n === 1) throw new ModelError('permanent', 'refused');
      return `result of ${call.taskId} #${call.n}`;
    },
    review: (call) =>
      call.taskId === 'b' && call.n === 1
        ? { verdict: 'rework', feedback: 'say more' }
        : { verdict: 'accept', feedback: 'fine' },
  });
  engine = await openTestEngine({ provider });
  const { orchestrator, home } = engine;
  const run = await orchestrator.startRun({ tasks: TASKS });
  expect((await orchestrator.waitForRun(run.id)).status).toBe('failed');
  await orchestrator.retryTask(run.id, 'd');
  expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  await orchestrator.addFeedback(run.id, { taskId: 'b', score: 2, comment: 'needed a second try' });
  const checkpoint = await orchestrator.createCheckpoint(run.id, 'done once');
  await orchestrator.rollback(run.id, checkpoint.id, 'selective', ['c']);
  await orchestrator.resumeRun(run.id);
  expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  // A rating after the rollback: the checkpoints before it do not hold it, the journal does.
  await orchestrator.addFeedback(run.id, { score: 4 });
  await orchestrator.close(0);
  // Read as the daemon reads it: settled tasks from the settled segment.
  const saved = (await readRunFolder(join(home, 'runs', run.id), run.id))!;
  return { home, runId: run.id, saved };
}

/** What a rebuilt document must agree on with the saved one (times are the events', not the records'). */
function essentials(kept: KeptRunDocument) {
  const doc = { ...kept, tasks: kept.tasks.map(recordOfTask) };
  return {
    status: doc.status,
    planSummary: doc.planSummary,
    costUsd: Number(doc.costUsd.toFixed(9)),
    usage: doc.usage,
    error: doc.error,
    finalReview: doc.finalReview,
    lastEventId: doc.lastEventId,
    checkpoints: doc.checkpoints.map((c) => c.id),
    tasksDoneSinceCheckpoint: doc.tasksDoneSinceCheckpoint,
    ratings: doc.ratings?.map((r) => `${r.taskId ?? 'run'} ${r.score} ${r.comment ?? ''}`),
    phase: (doc.runSnapshot as { value?: unknown } | undefined)?.value,
    tasks: doc.tasks.map((t) => ({
      id: t.id,
      status: t.status,
      result: t.result,
      error: t.error,
      reworks: t.reworks,
      attempts: t.attempts.map((a) => ({
        n: a.n,
        outcome: a.outcome,
        verdict: a.review?.verdict,
        costUsd: a.costUsd,
        error: a.error,
      })),
    })),
  };
}

describe('rebuildRunDocument', () => {
  it('rebuilds from the journal alone, and from every checkpoint, the document the run saved', async () => {
    const { home, runId, saved } = await eventfulRun();
    store = await openFileRunStore(home);
    const readCheckpoint = (id: string) => store!.readCheckpoint(runId, id);

    const fromJournal = await rebuildRunDocument(runId, {
      base: undefined,
      events: store.readEvents(runId, 0),
      readCheckpoint,
    });
    expect(essentials(fromJournal)).toEqual(essentials(saved));
    expect(fromJournal).toMatchObject({
      goal: saved.goal,
      models: saved.models,
      config: saved.config,
      importedTasks: true,
    });
    // Created when run.created was written, a moment after the document was.
    expect(Date.parse(fromJournal.createdAt) - Date.parse(saved.createdAt)).toBeLessThan(1000);
    // A sanity check of the scenario itself: b was reworked once, c's first attempt failed, d retried.
    const byId = new Map(fromJournal.tasks.map((t) => [t.id, recordOfTask(t)]));
    expect(byId.get('b')!.attempts.map((a) => a.review?.verdict)).toEqual(['rework', 'accept']);
    expect(byId.get('c')!.attempts[0]!.outcome).toBe('failed');
    expect(byId.get('d')!.attempts.length).toBeGreaterThanOrEqual(2);
    expect(fromJournal.ratings?.map((r) => r.score)).toEqual([2, 4]);

    const checkpoints = await store.checkpointIds(runId);
    expect(checkpoints.length).toBeGreaterThanOrEqual(3); // planned, manual, before-rollback
    for (const id of checkpoints) {
      const base = await readCheckpoint(id);
      const rebuilt = await rebuildRunDocument(runId, {
        base,
        events: store.readEvents(runId, base.lastEventId),
        readCheckpoint,
      });
      expect(essentials(rebuilt), `from checkpoint ${id}`).toEqual(essentials(saved));
    }
  });

  it('says why when the journal cannot rebuild the run', async () => {
    // An AsyncIterable of the events, as the store gives them.
    const events = (list: OrcEvent[]): AsyncIterable<OrcEvent> => ({
      [Symbol.asyncIterator]: () => {
        const it = list[Symbol.iterator]();
        return { next: () => Promise.resolve(it.next()) };
      },
    });
    const readCheckpoint = () => Promise.reject(new Error('no checkpoint here'));
    const at = '2025-01-01T00:00:00.000Z';
    const rebuild = (list: OrcEvent[]) =>
      rebuildRunDocument('r1', { base: undefined, events: events(list), readCheckpoint });
    await expect(rebuild([])).rejects.toThrow(new RebuildImpossible('the journal has no event'));
    await expect(rebuild([{ id: 1, runId: 'r1', at, type: 'run.resumed' }])).rejects.toThrow(
      'the journal starts with run.resumed, not run.created',
    );
    const models = {
      manager: { provider: 'simulated' as const, model: 'm' },
      worker: { provider: 'simulated' as const, model: 'w' },
      simulated: true,
    };
    // Journals from before runs recorded their setup do not know the run's configuration.
    await expect(
      rebuild([{ id: 1, runId: 'r1', at, type: 'run.created', goal: 'g', models, maxWorkers: 2 }]),
    ).rejects.toThrow(/has no setup/);
    const created: OrcEvent = {
      id: 1,
      runId: 'r1',
      at,
      type: 'run.created',
      goal: 'g',
      models,
      maxWorkers: 2,
      setup: { config: {}, importedTasks: false },
    };
    await expect(
      rebuild([
        created,
        {
          id: 2,
          runId: 'r1',
          at,
          type: 'run.rolled_back',
          checkpointId: 'cp1',
          strategy: 'full',
          resetTasks: [],
        },
      ]),
    ).rejects.toThrow(
      'the journal rolls back to checkpoint cp1 (event 2), which cannot be read: no checkpoint here',
    );
    // A run that had not planned yet plans afresh: no snapshot, still analyzing.
    expect(await rebuild([created])).toMatchObject({
      status: 'analyzing',
      runSnapshot: undefined,
      tasks: [],
    });
  });
});

describe('rebuildRunDocument over settled tasks kept as text', () => {
  it('parses a settled task only when an event reads it, and all of them for one that reads them all', async () => {
    const { home, runId, saved } = await eventfulRun();
    store = await openFileRunStore(home);
    const records = saved.tasks.map(recordOfTask);
    const base = (): KeptRunDocument => ({
      ...saved,
      status: 'executing',
      tasks: records.map((record) => (record.status === 'done' ? TaskText.of(record) : record)),
    });
    const [a, b] = records;
    const at = '2030-01-01T00:00:00.000Z';
    const from = saved.lastEventId;
    const event = (n: number, fields: object) => ({ id: from + n, runId, at, ...fields }) as OrcEvent;
    const replay = (events: OrcEvent[]) =>
      rebuildRunDocument(
        runId,
        {
          base: base(),
          events: (async function* () {
            for (const e of events) yield await Promise.resolve(e);
          })(),
          readCheckpoint: (id) => store!.readCheckpoint(runId, id),
        },
        { keepSnapshot: true },
      );

    // A retry of a: its record is parsed and folded; b stays text.
    const retried = await replay([
      event(1, { type: 'task.status', taskId: a!.id, status: 'pending', from: 'done' }),
      event(2, { type: 'run.status', status: 'executing' }),
    ]);
    expect(retried.tasks[0]).not.toBeInstanceOf(TaskText);
    expect(recordOfTask(retried.tasks[0]!).status).toBe('pending');
    expect(retried.tasks[1]).toBeInstanceOf(TaskText);
    expect(retried.tasks[1]).toEqual(base().tasks[1]);
    expect(retried.lastEventId).toBe(from + 2);

    // A restore reads every task: none is left as text, and the records are what they were.
    const restored = await replay([event(1, { type: 'run.restored', interruptedTasks: [] })]);
    expect(restored.tasks.some((t) => t instanceof TaskText)).toBe(false);
    expect(restored.tasks[1]).toEqual(b);
  });
});
