import { OrcError, type OrcEvent, type RunView } from '@orc/shared';
import {
  createScriptedProvider,
  eventually,
  foldJournal,
  freezableStore,
  onTheWire,
  openTestEngine,
  readJournal,
  tempHome,
  testConfig,
  type ScriptedProvider,
  type TestEngine,
} from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import { openFileRunStore } from '../store/file-run-store.js';

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function engine(provider: ScriptedProvider, workers = 1): Promise<TestEngine> {
  const opened = await openTestEngine({ provider, config: { execution: { max_workers: workers } } });
  cleanups.push(() => opened.close());
  return opened;
}

async function refusal(act: Promise<unknown>): Promise<OrcError> {
  const error = await act.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof OrcError)) throw new Error(`expected an OrcError, got ${String(error)}`);
  return error;
}

/** The journal folded by the client's reducer is what runs.get answers (the forecast aside). */
async function expectFoldIsView(orchestrator: Orchestrator, home: string, runId: string): Promise<void> {
  let full!: RunView;
  let events!: OrcEvent[];
  await eventually(async () => {
    full = await orchestrator.getRun(runId, { full: true });
    events = await readJournal(home, runId);
    return events.at(-1)?.id === full.lastEventId;
  }, 'the journal to hold every event of the view');
  expect(onTheWire({ ...foldJournal(runId, events), forecast: undefined })).toEqual(
    onTheWire({ ...full, forecast: undefined }),
  );
}

describe('editing a running plan', () => {
  it('adds, edits, cancels and removes tasks on a live run; a daemon that dies after comes back with them', async () => {
    const { home, remove } = await tempHome('orc-plan-edits-');
    cleanups.push(remove);
    // Every attempt of the first daemon takes a minute: what it runs is cut off by the crash.
    const first = createScriptedProvider({ latencyMs: (call) => (call.purpose === 'work' ? 60_000 : 0) });
    const store = freezableStore(await openFileRunStore(home));
    let before: Orchestrator | undefined = await createOrchestrator({
      home,
      loaded: testConfig(home, { models: { provider: 'simulated' }, execution: { max_workers: 1 } }),
      providers: () => first,
      retryBaseMs: 1,
      store,
    });
    cleanups.push(async () => before?.close(0));
    const { id: runId } = await before.startRun({
      tasks: [
        { id: 'a', title: 'A' },
        { id: 'b', title: 'B', dependencies: ['a'] },
        { id: 'c', title: 'C', dependencies: ['b'] },
      ],
    });
    await first.whenInFlight(1);
    // From here the run document stays as it is on disk; only the journal tells the edits.
    store.freeze();
    await store.flush(runId);

    const added = await before.addTasks(runId, [
      { id: 'n1', title: 'New one', priority: 'critical' },
      { title: 'After A', dependencies: ['a'] },
    ]);
    expect(added.added).toEqual(['n1', 't4']);
    expect(added.run.taskTotal).toBe(5);
    const edited = await before.updateTask(runId, 'c', {
      title: 'C, rewritten',
      dependencies: [],
      priority: 'high',
    });
    expect(edited.changed).toEqual(['c']);
    expect((await before.getTask(runId, 'c')).status).toBe('ready');

    // A task in flight is cancelled before it is changed; one others wait for is not removed unasked.
    expect((await refusal(before.updateTask(runId, 'a', { title: 'A2' }))).message).toContain(
      'cancel it first',
    );
    const withDependents = await refusal(before.removeTask(runId, 'a', 'refuse'));
    expect(withDependents).toMatchObject({ code: 'INVALID_STATE' });
    expect(withDependents.message).toContain('has dependents b, t4');
    expect((await refusal(before.updateTask(runId, 'b', { dependencies: ['c', 'zz'] }))).code).toBe(
      'TASK_NOT_FOUND',
    );
    expect((await refusal(before.updateTask(runId, 'a', { dependencies: ['c'] }))).code).toBe(
      'INVALID_STATE',
    );

    const cancelled = await before.cancelTask(runId, 'a');
    expect(cancelled.changed).toEqual(['a']);
    expect(first.callsFor('work', 'a')[0]!.aborted).toBe(true);
    const a = await before.getTask(runId, 'a');
    expect(a.status).toBe('cancelled');
    expect(a.attempts.map((attempt) => attempt.outcome)).toEqual(['cancelled']);
    // The worker it freed takes the best ready task: n1 (critical) before c (high).
    await eventually(() => first.callsFor('work').length === 2, 'the next task started');
    expect(first.callsFor('work')[1]!.taskId).toBe('n1');

    const removed = await before.removeTask(runId, 'a', 'keep');
    expect(removed).toMatchObject({ removed: ['a'], changed: ['b', 't4'] });
    expect((await before.getTask(runId, 'b')).dependencies).toEqual([]);
    await expectFoldIsView(before, home, runId);
    await before.close(0);
    before = undefined;

    // The second daemon reads a document from before every edit, and the journal after it.
    const second = createScriptedProvider();
    const after = await createOrchestrator({
      home,
      loaded: testConfig(home, { models: { provider: 'simulated' }, execution: { max_workers: 1 } }),
      providers: () => second,
      retryBaseMs: 1,
    });
    cleanups.push(() => after.close(0));
    expect((await after.waitForRun(runId)).status).toBe('completed');
    const view = await after.getRun(runId, { full: true });
    expect(view.tasks.map((t) => [t.id, t.status, t.dependencies])).toEqual([
      ['b', 'done', []],
      ['c', 'done', []],
      ['n1', 'done', []],
      ['t4', 'done', []],
    ]);
    expect(view.tasks.find((t) => t.id === 'c')?.title).toBe('C, rewritten');
    expect(second.callsFor('work', 'a')).toEqual([]);
    await expectFoldIsView(after, home, runId);
  });

  it('a cancelled task holds the run until a person edits it; a finished run given a task runs it', async () => {
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 'slow' ? 200 : 0),
    });
    const { orchestrator, home } = await engine(provider);
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'slow', title: 'Slow' },
        { id: 'later', title: 'Later', dependencies: ['slow'] },
        { id: 'then', title: 'Then', dependencies: ['later'] },
      ],
    });
    // Cancelling a task that is not running holds it too: what waits for it waits.
    await orchestrator.cancelTask(run.id, 'later');
    expect((await orchestrator.cancelTask(run.id, 'later')).changed).toEqual([]);
    // Once slow is done, everything left waits for the held task: the run waits for a person, paid nothing more.
    const held = await orchestrator.waitForRun(run.id);
    expect(held).toMatchObject({ status: 'paused', pauseReason: 'held' });
    expect((await orchestrator.getRun(run.id)).pauseMessage).toBe(
      'the tasks left wait for later, cancelled by a person: edit, retry or skip it (orc task edit, orc retry, orc skip), or remove it (orc task rm)',
    );
    expect(provider.callsFor('final-review')).toEqual([]);
    expect((await refusal(orchestrator.cancelTask(run.id, 'slow'))).message).toContain('slow is done');
    expect((await refusal(orchestrator.updateTask(run.id, 'slow', { title: 'x' }))).message).toContain(
      'done',
    );

    // Edited, the cancelled task waits to run again: the run goes on by itself and completes.
    const edited = await orchestrator.updateTask(run.id, 'later', { description: 'Now with more detail.' });
    expect(edited.run.status).toBe('executing');
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', 'later')).toHaveLength(1);
    expect(provider.callsFor('work', 'later')[0]!.request.prompt).toContain('Now with more detail.');

    // A task added to a completed run (on a done one) reopens it, and the run completes again.
    const reopened = await orchestrator.addTasks(run.id, [
      { id: 'more', title: 'More', dependencies: ['then'] },
    ]);
    expect(reopened.run.status).toBe('executing');
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect((await orchestrator.getTask(run.id, 'more')).status).toBe('done');
    await expectFoldIsView(orchestrator, home, run.id);

    // A held task nothing waits for holds the run too, as its cancel said: no final review is paid for a
    // run that would end without it (it failed, after its review, with "1 task cancelled by a person").
    const reviews = provider.callsFor('final-review').length;
    await orchestrator.addTasks(run.id, [{ id: 'aside', title: 'Aside', dependencies: ['more'] }]);
    await orchestrator.cancelTask(run.id, 'aside');
    expect(await orchestrator.waitForRun(run.id)).toMatchObject({ status: 'paused', pauseReason: 'held' });
    expect((await orchestrator.getRun(run.id)).pauseMessage).toBe(
      'task aside was cancelled by a person and the run waits for it before its final review: edit, retry or skip it (orc task edit, orc retry, orc skip), or remove it (orc task rm)',
    );
    expect(provider.callsFor('final-review')).toHaveLength(reviews);
    // Skipped, the run finishes without it (its attempt cut off by the cancel is all it was worked).
    const worked = provider.callsFor('work', 'aside').length;
    await orchestrator.skipTask(run.id, 'aside');
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect((await orchestrator.getTask(run.id, 'aside')).status).toBe('skipped');
    expect(provider.callsFor('work', 'aside')).toHaveLength(worked);

    // The report tells every edit a person made, in order.
    const report = await orchestrator.runReport(run.id);
    expect(
      report.feedback.filter((f) => f.kind === 'plan_edit').map((f) => `${f.taskId ?? 'run'}: ${f.text}`),
    ).toEqual([
      'later: cancelled by a person',
      'later: edited by a person: description',
      'run: added more by a person',
      'run: added aside by a person',
      'aside: cancelled by a person',
    ]);

    // A cancelled run takes no new tasks.
    const other = await orchestrator.startRun({ tasks: [{ id: 'x', title: 'X' }] });
    await orchestrator.cancelRun(other.id);
    expect((await refusal(orchestrator.addTasks(other.id, [{ title: 'Y' }]))).message).toBe(
      `run ${other.id} was cancelled; start a new run`,
    );
  });

  it('a cancelled task nothing waits for holds the run until it is removed, or retried', async () => {
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 'slow' ? 200 : 0),
    });
    const { orchestrator } = await engine(provider);
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'slow', title: 'Slow' },
        { id: 'k5', title: 'K5' },
        { id: 'k6', title: 'K6' },
      ],
    });
    await orchestrator.cancelTask(run.id, 'k5');
    await orchestrator.cancelTask(run.id, 'k6');
    expect(await orchestrator.waitForRun(run.id)).toMatchObject({ status: 'paused', pauseReason: 'held' });
    expect((await orchestrator.getRun(run.id)).pauseMessage).toContain(
      'tasks k5, k6 were cancelled by a person and the run waits for them before its final review',
    );
    // One removed: the other still holds it.
    const removed = await orchestrator.removeTask(run.id, 'k5', 'refuse');
    expect(removed.run).toMatchObject({ status: 'paused', pauseReason: 'held' });
    expect(provider.callsFor('final-review')).toEqual([]);
    // The other retried: it runs, and the run completes with its final review.
    const worked = provider.callsFor('work', 'k6').length;
    await orchestrator.retryTask(run.id, 'k6');
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', 'k6')).toHaveLength(worked + 1);
    expect((await orchestrator.getTask(run.id, 'k6')).status).toBe('done');
    expect(provider.callsFor('final-review')).toHaveLength(1);

    // Removed as the last one holding it, the run completes without it.
    const other = await orchestrator.startRun({
      tasks: [
        { id: 'slow', title: 'Slow' },
        { id: 'k5', title: 'K5' },
      ],
    });
    await orchestrator.cancelTask(other.id, 'k5');
    expect(await orchestrator.waitForRun(other.id)).toMatchObject({ status: 'paused', pauseReason: 'held' });
    await orchestrator.removeTask(other.id, 'k5', 'refuse');
    expect((await orchestrator.waitForRun(other.id)).status).toBe('completed');
    expect((await orchestrator.getRun(other.id)).taskTotal).toBe(1);
  });

  it('a task cancelled in its review and then edited is worked again, not accepted on its old answer', async () => {
    // Its first review never answers by itself: the person cancels it while it is reviewed (b waiting for
    // it holds the run meanwhile).
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'review' && call.taskId === 'a' && call.n === 1 ? 60_000 : 0),
    });
    const { orchestrator, home } = await engine(provider);
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'a', title: 'A', description: 'Old spec.' },
        { id: 'b', title: 'B', dependencies: ['a'] },
      ],
    });
    await eventually(
      async () => (await orchestrator.getTask(run.id, 'a')).status === 'reviewing',
      'a to be reviewed',
    );
    await orchestrator.cancelTask(run.id, 'a');
    await orchestrator.updateTask(run.id, 'a', { description: 'New spec.' });

    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    const work = provider.callsFor('work', 'a');
    expect(work).toHaveLength(2);
    expect(work[1]!.request.prompt).toContain('New spec.');
    expect((await orchestrator.getTask(run.id, 'a')).result).toBe('result of a #2');
    await expectFoldIsView(orchestrator, home, run.id);
  });

  it('removes a task with everything that waits for it (--cascade), and nothing when refused', async () => {
    const provider = createScriptedProvider();
    provider.hold();
    const { orchestrator } = await engine(provider);
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'root', title: 'Root' },
        { id: 'x', title: 'X', dependencies: ['root'] },
        { id: 'y', title: 'Y', dependencies: ['x'] },
        { id: 'z', title: 'Z' },
      ],
    });
    await provider.whenInFlight(1);
    // The one worker took root first (the longest chain ahead of it).
    const busy = provider.calls[0]!.taskId!;
    expect(busy).toBe('root');
    const result = await orchestrator.removeTask(run.id, 'x', 'cascade');
    expect(result.removed).toEqual(['x', 'y']);
    expect((await orchestrator.getRun(run.id)).tasks.map((t) => t.id)).toEqual(['root', 'z']);
    const before = await orchestrator.getRun(run.id);
    expect((await refusal(orchestrator.removeTask(run.id, busy, 'refuse'))).message).toContain(
      `${busy} (running)`,
    );
    expect((await orchestrator.getRun(run.id)).lastEventId).toBe(before.lastEventId);
    provider.release();
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  });
});
