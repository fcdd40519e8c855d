import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrcEvent, TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import { openFileRunStore } from '../store/file-run-store.js';
import type { RunStore } from '../store/store.js';
import {
  createScriptedProvider,
  openTestEngine,
  readJournal,
  tempHome,
  testConfig,
  type ScriptedProvider,
  type TestEngine,
} from '@orc/test-support';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

// a → b → c, and d on its own.
const TASKS: TaskSpecInput[] = [
  { id: 'a', title: 'A' },
  { id: 'b', title: 'B', dependencies: ['a'] },
  { id: 'c', title: 'C', dependencies: ['b'] },
  { id: 'd', title: 'D' },
];

const workCounts = (provider: ScriptedProvider) =>
  Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, provider.callsFor('work', id).length]));

const ofType = <T extends OrcEvent['type']>(events: OrcEvent[], type: T) =>
  events.filter((e): e is Extract<OrcEvent, { type: T }> => e.type === type);

async function completedRun(provider: ScriptedProvider) {
  engine = await openTestEngine({ provider, config: { checkpoints: { every_n_tasks: 0 } } });
  const { orchestrator } = engine;
  const run = await orchestrator.startRun({ tasks: TASKS });
  expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  return { orchestrator, runId: run.id };
}

describe('checkpoints and rollback through the orchestrator', () => {
  it('records a checkpoint when the plan is in, and manual ones on request', async () => {
    const { orchestrator, runId } = await completedRun(createScriptedProvider());
    const manual = await orchestrator.createCheckpoint(runId, 'after everything');
    expect(manual).toMatchObject({ runId, label: 'after everything', reason: 'manual', tasksDone: 4 });
    const list = await orchestrator.listCheckpoints(runId);
    expect(list.map((c) => [c.reason, c.tasksDone])).toEqual([
      ['planned', 0],
      ['manual', 4],
    ]);
    await expect(orchestrator.rollback(runId, 'cp99', 'full')).rejects.toMatchObject({
      code: 'CHECKPOINT_NOT_FOUND',
      message: `run ${runId} has no checkpoint "cp99"; its checkpoints: cp1, cp2 "after everything"`,
    });
  });

  it('counts the task that made a progress checkpoint among its done tasks', async () => {
    // Made as the 2nd task was done, cp2 said "1 done"; a rollback to it found 2.
    engine = await openTestEngine({
      provider: createScriptedProvider(),
      config: { checkpoints: { every_n_tasks: 2 }, execution: { max_workers: 1 } },
    });
    const run = await engine.orchestrator.startRun({ tasks: TASKS });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    const progress = (await engine.orchestrator.listCheckpoints(run.id)).filter(
      (c) => c.reason === 'progress',
    );
    expect(progress.map((c) => c.tasksDone)).toEqual([2, 4]);
  });

  it('rolls back to a checkpoint named by its label; a label in use is refused for another', async () => {
    const { orchestrator, runId } = await completedRun(createScriptedProvider());
    const labelled = await orchestrator.createCheckpoint(runId, 'all done');
    const rolled = await orchestrator.rollback(runId, 'all done', 'full');
    expect(rolled.rollback).toMatchObject({ checkpointId: labelled.id, reset: [] });
    const before = (await orchestrator.listCheckpoints(runId)).length;
    await expect(orchestrator.createCheckpoint(runId, 'all done')).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: `run ${runId} has a checkpoint labelled "all done" already (${labelled.id}); choose another label`,
    });
    expect(await orchestrator.listCheckpoints(runId)).toHaveLength(before);
    // "cp1" as the label of cp3 made `orc rollback cp1` go to cp1, the planned checkpoint.
    await expect(orchestrator.createCheckpoint(runId, 'cp1')).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: `a checkpoint's label cannot look like a checkpoint id ("cp1"): orc rollback ${runId} cp1 would mean checkpoint cp1; choose another label`,
    });
    expect(await orchestrator.listCheckpoints(runId)).toHaveLength(before);
  });

  it('full: goes back to the planned checkpoint and runs every task again', async () => {
    const provider = createScriptedProvider();
    const { orchestrator, runId } = await completedRun(provider);
    const planned = (await orchestrator.listCheckpoints(runId)).find((c) => c.reason === 'planned')!;
    const rolled = await orchestrator.rollback(runId, planned.id, 'full');
    expect(rolled).toMatchObject({
      status: 'paused',
      pauseReason: 'rollback',
      pauseMessage: `rolled back to ${planned.id}; orc resume goes on`,
    });
    expect((await orchestrator.getRun(runId, { full: true })).tasks.every((t) => t.status !== 'done')).toBe(
      true,
    );
    expect((await orchestrator.getRun(runId)).finalReview).toBeUndefined();
    await orchestrator.resumeRun(runId);
    expect((await orchestrator.waitForRun(runId)).status).toBe('completed');
    expect(workCounts(provider)).toEqual({ a: 2, b: 2, c: 2, d: 2 });
    expect((await orchestrator.getRun(runId, { full: true })).tasks.map((t) => t.result)).toEqual([
      'result of a #2',
      'result of b #2',
      'result of c #2',
      'result of d #2',
    ]);
    const events = await readJournal(engine!.home, runId);
    expect(ofType(events, 'run.rolled_back')).toEqual([
      expect.objectContaining({
        checkpointId: planned.id,
        strategy: 'full',
        resetTasks: ['a', 'b', 'c', 'd'],
      }),
    ]);
    expect((await orchestrator.listCheckpoints(runId)).some((c) => c.reason === 'before-rollback')).toBe(
      true,
    );
  });

  it('partial: keeps what finished with unchanged inputs and redoes the rest', async () => {
    // a fails the first time, so the run ends with a failed, b and c never run, d done.
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'a' && call.n === 1) throw new ModelError('permanent', 'bad luck');
        return `result of ${call.taskId} #${call.n}`;
      },
    });
    engine = await openTestEngine({ provider, config: { checkpoints: { every_n_tasks: 0 } } });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('failed');
    const planned = (await orchestrator.listCheckpoints(run.id))[0]!;
    const rolled = await orchestrator.rollback(run.id, planned.id, 'partial');
    expect(rolled.rollback).toEqual({
      checkpointId: planned.id,
      strategy: 'partial',
      reset: ['a'],
      kept: ['d'],
    });
    const byId = new Map((await orchestrator.getRun(run.id, { full: true })).tasks.map((t) => [t.id, t]));
    expect(byId.get('d')).toMatchObject({ status: 'done', result: 'result of d #1' });
    expect(byId.get('a')!.status).toBe('ready');
    await orchestrator.resumeRun(run.id);
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(workCounts(provider)).toEqual({ a: 2, b: 1, c: 1, d: 1 });
    const events = await readJournal(engine.home, run.id);
    expect(ofType(events, 'run.rolled_back')[0]!.resetTasks).toEqual(['a']);
  });

  it('leaves a finished run finished when the rollback resets nothing', async () => {
    const provider = createScriptedProvider();
    const { orchestrator, runId } = await completedRun(provider);
    const checkpoint = await orchestrator.createCheckpoint(runId, 'all done');
    const before = await orchestrator.getRun(runId);
    for (const strategy of ['full', 'partial'] as const) {
      const rolled = await orchestrator.rollback(runId, checkpoint.id, strategy);
      expect(rolled).toMatchObject({
        status: 'completed',
        rollback: { reset: [], kept: ['a', 'b', 'c', 'd'] },
      });
      expect(rolled.pauseReason).toBeUndefined();
    }
    expect((await orchestrator.getRun(runId)).finalReview).toEqual(before.finalReview);
    expect((await orchestrator.getRun(runId)).finishedAt).toBe(before.finishedAt);
    expect(workCounts(provider)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
  });

  it('refuses --tasks with a strategy that resets every task', async () => {
    const { orchestrator, runId } = await completedRun(createScriptedProvider());
    const [planned] = await orchestrator.listCheckpoints(runId);
    for (const strategy of ['full', 'partial'] as const) {
      await expect(orchestrator.rollback(runId, planned!.id, strategy, ['b'])).rejects.toMatchObject({
        code: 'INVALID_STATE',
        message: `a ${strategy} rollback resets every task; --tasks goes with selective`,
      });
    }
    expect((await orchestrator.getRun(runId)).status).toBe('completed');
  });

  it('selective: resets the named tasks and their downstream only', async () => {
    const provider = createScriptedProvider();
    const { orchestrator, runId } = await completedRun(provider);
    const checkpoint = await orchestrator.createCheckpoint(runId);
    await orchestrator.rollback(runId, checkpoint.id, 'selective', ['b']);
    const statuses = Object.fromEntries(
      (await orchestrator.getRun(runId, { full: true })).tasks.map((t) => [t.id, t.status]),
    );
    expect(statuses).toEqual({ a: 'done', b: 'ready', c: 'pending', d: 'done' });
    await orchestrator.resumeRun(runId);
    expect((await orchestrator.waitForRun(runId)).status).toBe('completed');
    expect(workCounts(provider)).toEqual({ a: 1, b: 2, c: 2, d: 1 });
    await expect(orchestrator.rollback(runId, checkpoint.id, 'selective', [])).rejects.toThrow(
      /needs --tasks/,
    );
    await expect(orchestrator.rollback(runId, checkpoint.id, 'selective', ['zz'])).rejects.toMatchObject({
      code: 'TASK_NOT_FOUND',
    });
  });

  it('rolls back a run while it executes: in-flight work is stopped and requeued, then resume completes it', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, config: { checkpoints: { every_n_tasks: 0 } } });
    const { orchestrator } = engine;
    provider.hold();
    const run = await orchestrator.startRun({ tasks: TASKS });
    await provider.whenInFlight(2);
    const checkpoint = await orchestrator.createCheckpoint(run.id, 'mid-run');
    const rolled = await orchestrator.rollback(run.id, checkpoint.id, 'full');
    expect(rolled).toMatchObject({ status: 'paused', pauseReason: 'rollback' });
    expect(provider.callsFor('work').every((c) => c.aborted)).toBe(true);
    expect((await orchestrator.getRun(run.id)).busyWorkers).toBe(0);
    const interrupted = (await orchestrator.getRun(run.id, { full: true })).tasks.find((t) => t.id === 'a')!;
    expect(interrupted.attempts.at(-1)!.outcome).toBe('interrupted');
    provider.release();
    await orchestrator.resumeRun(run.id);
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect((await orchestrator.getRun(run.id, { full: true })).tasks.every((t) => t.status === 'done')).toBe(
      true,
    );
    expect(workCounts(provider)).toEqual({ a: 2, b: 1, c: 1, d: 2 });
  });

  it('can roll back to a checkpoint as soon as it is listed', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider });
    provider.hold();
    const run = await engine.orchestrator.startRun({ tasks: TASKS });
    const [planned] = await engine.orchestrator.listCheckpoints(run.id);
    expect(planned?.reason).toBe('planned');
    await engine.orchestrator.rollback(run.id, planned!.id, 'full');
    provider.release();
    await engine.orchestrator.resumeRun(run.id);
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
  });
});

describe('a progress checkpoint the last task makes', () => {
  let orchestrator: Orchestrator | undefined;
  let remove: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await orchestrator?.close(0);
    orchestrator = undefined;
    await remove?.();
  });

  it('is listed before the run completes, so the finished run is saved and indexed up to its last event', async () => {
    const temp = await tempHome('orc-late-checkpoint-');
    remove = temp.remove;
    const { home } = temp;
    // The copy of a large run takes seconds to write; the run's last tasks are done long before.
    const files = await openFileRunStore(home);
    const store = new Proxy(files, {
      get(target, key) {
        if (key === 'writeCheckpoint')
          return async (...args: Parameters<RunStore['writeCheckpoint']>) => {
            await target.writeCheckpoint(...args);
            if (args[0].reason === 'progress') await new Promise((resolve) => setTimeout(resolve, 300));
          };
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    orchestrator = await createOrchestrator({
      home,
      store,
      loaded: testConfig(home, {
        models: { provider: 'simulated' },
        checkpoints: { every_n_tasks: 4 },
        execution: { max_workers: 1 },
      }),
      providers: () => createScriptedProvider(),
      retryBaseMs: 1,
    });
    const run = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    await orchestrator.close(0);
    orchestrator = undefined;

    const events = await readJournal(home, run.id);
    const at = (type: OrcEvent['type']) => events.findIndex((e) => e.type === type);
    const progress = events.findIndex(
      (e) => e.type === 'checkpoint.created' && e.checkpoint.reason === 'progress',
    );
    expect(progress, 'the last task made a progress checkpoint').toBeGreaterThan(-1);
    expect(progress).toBeLessThan(at('run.completed'));
    // What a daemon's start compares: a finished run's summary that lags its journal is loaded as damaged.
    const last = events.at(-1)!.id;
    const index = JSON.parse(await readFile(join(home, 'runs', 'index.json'), 'utf8')) as {
      runs: { id: string; summary?: { lastEventId: number } }[];
    };
    expect(index.runs.find((r) => r.id === run.id)?.summary?.lastEventId).toBe(last);
    const state = JSON.parse(await readFile(join(home, 'runs', run.id, 'state.json'), 'utf8')) as {
      lastEventId: number;
      checkpoints: { reason: string }[];
    };
    expect(state.lastEventId).toBe(last);
    expect(state.checkpoints.map((c) => c.reason)).toEqual(['planned', 'progress']);
  });

  it('a finished run whose journal went past its saved document is saved caught up once, then not loaded again', async () => {
    const temp = await tempHome('orc-late-checkpoint-');
    remove = temp.remove;
    const { home } = temp;
    const open = (store?: RunStore) =>
      createOrchestrator({
        home,
        ...(store && { store }),
        loaded: testConfig(home, { models: { provider: 'simulated' } }),
        providers: () => createScriptedProvider(),
        retryBaseMs: 1,
      });
    orchestrator = await open();
    const run = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    await orchestrator.close(0);
    orchestrator = undefined;
    // As an earlier version left it: a checkpoint listed after `run.completed`, past the final document.
    const events = await readJournal(home, run.id);
    const last = events.at(-1)!;
    const late = {
      id: last.id + 1,
      runId: run.id,
      at: last.at,
      type: 'checkpoint.created',
      checkpoint: {
        id: 'cp9',
        runId: run.id,
        createdAt: last.at,
        reason: 'progress',
        tasksDone: 4,
        lastEventId: last.id,
      },
    };
    await appendFile(join(home, 'runs', run.id, 'events.jsonl'), `${JSON.stringify(late)}\n`);

    const loads: string[] = [];
    const counting = async () => {
      const files = await openFileRunStore(home);
      return new Proxy(files, {
        get(target, key) {
          if (key === 'loadRun')
            return (runId: string) => {
              loads.push(runId);
              return target.loadRun(runId);
            };
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    };
    orchestrator = await open(await counting());
    expect(loads, 'the first start loads it to catch it up').toEqual([run.id]);
    await orchestrator.close(0);
    const state = JSON.parse(await readFile(join(home, 'runs', run.id, 'state.json'), 'utf8')) as {
      lastEventId: number;
      checkpoints: { id: string }[];
    };
    expect(state.lastEventId).toBe(late.id);
    expect(state.checkpoints.map((c) => c.id)).toContain('cp9');

    loads.length = 0;
    orchestrator = await open(await counting());
    expect(loads).toEqual([]);
    expect((await orchestrator.getRun(run.id)).status).toBe('completed');
    expect((await orchestrator.listCheckpoints(run.id)).map((c) => c.id)).toContain('cp9');
  });
});
