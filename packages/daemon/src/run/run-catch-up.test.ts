import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrcEvent, RunView, Usage } from '@orc/shared';
import { ZERO_USAGE } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileRunStore } from '../store/file-run-store.js';
import { recordOfTask, type RunDocument } from '../store/run-document.js';
import { readRunFolder } from '../store/run-document-file.js';
import {
  createScriptedProvider,
  eventually,
  foldJournal,
  freezableStore as freezable,
  onTheWire,
  readJournal,
  tempHome,
  testConfig,
} from '@orc/test-support';
import { ModelError } from '../model/model-error.js';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';

const WORK_USAGE: Usage = { inputTokens: 1000, outputTokens: 400, cacheReadTokens: 0, cacheWriteTokens: 0 };
const CONFIG = { models: { provider: 'simulated' as const }, execution: { max_workers: 2 } };
const TASKS = [
  { id: 'a', title: 'A', description: 'first' },
  { id: 'b', title: 'B', description: 'slower' },
  { id: 'c', title: 'C', description: 'after b', dependencies: ['b'] },
];

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('restoring a run whose journal is ahead of its saved document', () => {
  it('applies the results, attempts and spend the journal holds, and runs nothing twice', async () => {
    const { home, remove } = await tempHome('orc-catch-up-');
    cleanups.push(remove);
    // Only work calls cost anything, so the spend is the sum of the finished attempts' costs.
    const first = createScriptedProvider({
      usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
      latencyMs: (call) =>
        call.purpose !== 'work' ? 0 : call.taskId === 'b' ? 1_000 : call.taskId === 'c' ? 60_000 : 0,
    });
    const store = freezable(await openFileRunStore(home));
    let before: Orchestrator | undefined = await createOrchestrator({
      home,
      store,
      loaded: testConfig(home, CONFIG),
      providers: () => first,
      retryBaseMs: 1,
    });
    cleanups.push(async () => before?.close(0));
    const { id: runId } = await before.startRun({ tasks: TASKS });
    const journal = () => readJournal(home, runId);
    const has = (events: OrcEvent[], type: OrcEvent['type'], taskId: string) =>
      events.some((e) => e.type === type && 'taskId' in e && e.taskId === taskId);

    await eventually(async () => has(await journal(), 'task.completed', 'a'), 'a done', 5000);
    // From here the document stays as it is on disk; the journal goes on: b finishes, c begins.
    store.freeze();
    await store.flush(runId);
    await eventually(async () => has(await journal(), 'task.assigned', 'c'), 'c begun', 5000);
    const spentBefore = (await before.getRun(runId)).costUsd;
    await before.close(0);
    before = undefined;

    const saved = (await readRunFolder(join(home, 'runs', runId), runId))!;
    const savedTask = (id: string) => recordOfTask(saved.tasks.find((t) => t.id === id)!);
    expect(savedTask('a').status).toBe('done');
    expect(savedTask('b').status, 'the test needs b done after the last save').not.toBe('done');
    expect(savedTask('c').attempts).toEqual([]);
    const events = await journal();
    const bDone = events.find((e) => e.type === 'task.completed' && e.taskId === 'b');
    if (bDone?.type !== 'task.completed') throw new Error('b did not complete in the journal');
    expect(bDone.costUsd).toBeGreaterThan(0);
    // Its result is the answer its `task.worked` told, not told again.
    const bWorked = events.find((e) => e.type === 'task.worked' && e.taskId === 'b');
    if (bWorked?.type !== 'task.worked') throw new Error('b did not answer in the journal');
    expect(bDone.result).toBeUndefined();

    const second = createScriptedProvider({
      usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
    });
    const after = await createOrchestrator({
      home,
      loaded: testConfig(home, CONFIG),
      providers: () => second,
      retryBaseMs: 1,
    });
    cleanups.push(() => after.close(0));
    const summary = await after.waitForRun(runId);
    expect(summary.status).toBe('completed');
    const view = await after.getRun(runId, { full: true });
    const task = (id: string) => view.tasks.find((t) => t.id === id)!;

    // b finished before the crash: its result and cost come from the journal, and it did not run again.
    expect(second.callsFor('work', 'b')).toEqual([]);
    expect(task('b').result).toBe(bWorked.output);
    expect(task('b').result).toBe('result of b #1');
    expect(task('b').attempts).toMatchObject([
      { n: 1, outcome: 'succeeded', costUsd: bDone.costUsd, usage: WORK_USAGE },
    ]);
    // c's first attempt, begun after the last save and cut off, is kept; the re-run is attempt 2.
    expect(task('c').attempts.map((a) => [a.n, a.outcome])).toEqual([
      [1, 'interrupted'],
      [2, 'succeeded'],
    ]);
    expect(events.filter((e) => e.type === 'task.assigned' && e.taskId === 'c')).toHaveLength(1);
    // The spend counts every finished attempt once: the saved total, b's attempt, and c's re-run.
    const attemptCosts = view.tasks.flatMap((t) => t.attempts).reduce((sum, a) => sum + a.costUsd, 0);
    expect(view.costUsd).toBeCloseTo(attemptCosts, 10);
    expect(view.costUsd).toBeCloseTo(spentBefore + task('c').attempts[1]!.costUsd, 10);
    expect(view.usage.inputTokens).toBe(3 * WORK_USAGE.inputTokens);
  });

  it('keeps what the journal says when the run is killed before its first snapshot and starts over', async () => {
    const { home, remove } = await tempHome('orc-catch-up-');
    cleanups.push(remove);
    const first = createScriptedProvider({
      usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 'c' ? 60_000 : 0),
    });
    // Only the document written when the run was created reaches the disk: no snapshot of the run.
    const store = freezable(await openFileRunStore(home), true);
    let before: Orchestrator | undefined = await createOrchestrator({
      home,
      store,
      loaded: testConfig(home, CONFIG),
      providers: () => first,
      retryBaseMs: 1,
    });
    cleanups.push(async () => before?.close(0));
    const { id: runId } = await before.startRun({ tasks: TASKS });
    await eventually(
      async () =>
        (await readJournal(home, runId)).some((e) => e.type === 'task.assigned' && e.taskId === 'c'),
      'c begun',
      5000,
    );
    // A person's rating after the last save: in the journal only.
    await before.addFeedback(runId, { taskId: 'a', score: 5, comment: 'spot on' });
    await before.close(0);
    before = undefined;
    const saved = JSON.parse(await readFile(join(home, 'runs', runId, 'state.json'), 'utf8')) as RunDocument;
    expect(saved.runSnapshot, 'the test needs a run with no snapshot on disk').toBeUndefined();
    expect(saved.ratings).toBeUndefined();

    const second = createScriptedProvider({
      usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
    });
    const after = await createOrchestrator({
      home,
      loaded: testConfig(home, CONFIG),
      providers: () => second,
      retryBaseMs: 1,
    });
    cleanups.push(() => after.close(0));
    expect((await after.waitForRun(runId)).status).toBe('completed');
    const view = await after.getRun(runId, { full: true });
    const task = (id: string) => view.tasks.find((t) => t.id === id)!;
    // a and b were done before the crash: not run again, their results kept.
    expect(second.callsFor('work').map((c) => c.taskId)).toEqual(['c']);
    expect(task('a').result).toBe('result of a #1');
    expect(task('b').result).toBe('result of b #1');
    expect(task('c').attempts.map((a) => [a.n, a.outcome])).toEqual([
      [1, 'interrupted'],
      [2, 'succeeded'],
    ]);
    expect(view.ratings).toEqual([expect.objectContaining({ taskId: 'a', score: 5, comment: 'spot on' })]);
  });

  it('reviews an answer that was waiting for its review when the daemon died, and does not work the task again', async () => {
    const { home, remove } = await tempHome('orc-catch-up-');
    cleanups.push(remove);
    // b's answer comes at once; its review never does before the crash.
    const first = createScriptedProvider({
      usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
      latencyMs: (call) => (call.purpose === 'review' && call.taskId === 'b' ? 60_000 : 0),
    });
    const store = freezable(await openFileRunStore(home));
    let before: Orchestrator | undefined = await createOrchestrator({
      home,
      store,
      loaded: testConfig(home, CONFIG),
      providers: () => first,
      retryBaseMs: 1,
    });
    cleanups.push(async () => before?.close(0));
    const { id: runId } = await before.startRun({ tasks: TASKS.slice(0, 2) });
    const worked = (events: OrcEvent[]) =>
      events.filter((e): e is Extract<OrcEvent, { type: 'task.worked' }> => e.type === 'task.worked');
    await eventually(
      async () => worked(await readJournal(home, runId)).some((e) => e.taskId === 'b'),
      "b's answer journalled",
      5000,
    );
    store.freeze();
    await before.close(0);
    before = undefined;
    const bWorked = worked(await readJournal(home, runId)).find((e) => e.taskId === 'b')!;
    expect(bWorked).toMatchObject({ attempt: 1, output: 'result of b #1', usage: WORK_USAGE });

    const second = createScriptedProvider({
      usage: (call) => (call.purpose === 'work' ? WORK_USAGE : ZERO_USAGE),
    });
    const after = await createOrchestrator({
      home,
      loaded: testConfig(home, CONFIG),
      providers: () => second,
      retryBaseMs: 1,
    });
    cleanups.push(() => after.close(0));
    expect((await after.waitForRun(runId)).status).toBe('completed');
    // The answer was paid for once: after the restart b went to its review, with that answer.
    expect(second.callsFor('work', 'b')).toEqual([]);
    expect(second.callsFor('review', 'b')).toHaveLength(1);
    expect(second.callsFor('review', 'b')[0]!.request.prompt).toContain('result of b #1');
    const b = (await after.getRun(runId, { full: true })).tasks.find((t) => t.id === 'b')!;
    expect(b.result).toBe('result of b #1');
    expect(b.attempts.map((a) => [a.n, a.outcome, a.costUsd])).toEqual([[1, 'succeeded', bWorked.costUsd]]);
    const events = await readJournal(home, runId);
    expect(events.filter((e) => e.type === 'task.completed' && e.taskId === 'b')).toHaveLength(1);
    expect(worked(events).filter((e) => e.taskId === 'b')).toHaveLength(1);
    // The journal tells which worker took the answer to its review, so a client's view has it too.
    const restoredAt = events.findIndex((e) => e.type === 'run.restored');
    const reviewing = events
      .slice(restoredAt)
      .find((e) => e.type === 'task.status' && e.taskId === 'b' && e.status === 'reviewing');
    expect(reviewing?.type === 'task.status' && typeof reviewing.worker).toBe('number');
    // And a client folding the journal from the first event holds what runs.get answers.
    let full!: RunView;
    let journal!: OrcEvent[];
    await eventually(async () => {
      full = await after.getRun(runId, { full: true });
      journal = await readJournal(home, runId);
      return journal.at(-1)?.id === full.lastEventId;
    }, 'the journal to hold every event of the view');
    expect(onTheWire({ ...foldJournal(runId, journal), forecast: undefined })).toEqual(
      onTheWire({ ...full, forecast: undefined }),
    );
  });

  it('keeps a quota pause the journal holds past the saved document, and goes on at its reset', async () => {
    const { home, remove } = await tempHome('orc-catch-up-');
    cleanups.push(remove);
    const resumeAt = Date.now() + 1_500;
    const first = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'b')
          throw new ModelError('permanent', 'usage limit reached', {
            pauseRun: true,
            pauseReason: 'quota',
            resumeAt,
          });
        return `result of ${call.taskId} #${call.n}`;
      },
      // b fails after the document is frozen.
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 'b' ? 300 : 0),
    });
    const store = freezable(await openFileRunStore(home));
    let before: Orchestrator | undefined = await createOrchestrator({
      home,
      store,
      loaded: testConfig(home, { ...CONFIG, execution: { max_workers: 1 } }),
      providers: () => first,
      retryBaseMs: 1,
    });
    cleanups.push(async () => before?.close(0));
    const { id: runId } = await before.startRun({
      tasks: [TASKS[0]!, { ...TASKS[1]!, dependencies: ['a'] }],
    });
    await eventually(
      async () =>
        (await readJournal(home, runId)).some((e) => e.type === 'task.completed' && e.taskId === 'a'),
      'a done',
      5000,
    );
    // The document saved from here on says executing; the journal goes on to the quota pause.
    store.freeze();
    await store.flush(runId);
    await eventually(
      async () =>
        (await readJournal(home, runId)).some((e) => e.type === 'run.paused' && e.reason === 'quota'),
      'the quota pause journalled',
      5000,
    );
    await before.close(0);
    before = undefined;
    const saved = JSON.parse(await readFile(join(home, 'runs', runId, 'state.json'), 'utf8')) as RunDocument;
    expect(saved.status, 'the test needs the pause after the last save').toBe('executing');

    const second = createScriptedProvider();
    const after = await createOrchestrator({
      home,
      loaded: testConfig(home, CONFIG),
      providers: () => second,
      retryBaseMs: 1,
    });
    cleanups.push(() => after.close(0));
    const restored = after.listRuns().find((r) => r.id === runId)!;
    expect(restored).toMatchObject({
      status: 'paused',
      pauseReason: 'quota',
      resumeAt: new Date(resumeAt).toISOString(),
    });
    expect(second.callsFor('work', 'b')).toEqual([]);
    // At its reset it goes on by itself.
    expect((await after.waitForRun(runId)).status).toBe('completed');
    expect(Date.now()).toBeGreaterThanOrEqual(resumeAt);
    expect(second.callsFor('work', 'b')).toHaveLength(1);
  });
});
