import { createOrchestrator, ModelError, openFileRunStore, type Orchestrator } from '@orc/daemon';
import { ZERO_USAGE, type RunView, type Usage } from '@orc/shared';
import {
  createScriptedProvider,
  eventually,
  foldJournal,
  freezableStore,
  onTheWire as wire,
  readJournal,
  tempHome,
  testConfig,
  withoutOutputs,
  type ScriptedProvider,
} from '@orc/test-support';
import { afterEach, expect, it } from 'vitest';

/**
 * The journal tells every change of a run: a client that folds a run's events from the first one, with
 * the reducer every client uses, holds exactly what `runs.get` answers (every field, not "close"), through
 * retries, reworks, a failure a person retries, rollbacks, and a daemon that died with its document
 * behind its journal.
 */

const CONFIG = {
  models: { provider: 'simulated' as const },
  execution: { max_workers: 3, max_retries: 3 },
  checkpoints: { every_n_tasks: 2 },
};
const TASKS = [
  { id: 'a', title: 'A' },
  { id: 'b', title: 'B' },
  { id: 'c', title: 'C', dependencies: ['a'] },
  { id: 'd', title: 'D', dependencies: ['b'] },
  { id: 'e', title: 'E', dependencies: ['c', 'd'] },
  { id: 'f', title: 'F' },
  { id: 'g', title: 'G', dependencies: ['f'] },
  { id: 'h', title: 'H', dependencies: ['g'] },
];
const usage = (inputTokens: number): Usage => ({ ...ZERO_USAGE, inputTokens, outputTokens: 50 });

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/**
 * Compares once the journal on disk holds every event the view reflects (a checkpoint taken as the run
 * finished may still be on its way to disk).
 */
async function expectFoldIsView(orchestrator: Orchestrator, home: string, runId: string, when: string) {
  let full!: RunView;
  let view!: RunView;
  let events!: Awaited<ReturnType<typeof readJournal>>;
  await eventually(async () => {
    full = await orchestrator.getRun(runId, { full: true });
    view = await orchestrator.getRun(runId);
    events = await readJournal(home, runId);
    return events.at(-1)?.id === full.lastEventId && view.lastEventId === full.lastEventId;
  }, 'the journal to hold every event of the view');
  // The forecast is an estimate the daemon makes when it answers (it moves with the clock); a client
  // keeps the last one told. Everything else must be the same.
  const folded = withoutForecast(foldJournal(runId, events));
  expect(wire(folded), `the full view ${when}`).toEqual(wire(withoutForecast(full)));
  expect(wire(withoutOutputs(folded)), `the view ${when}`).toEqual(wire(withoutForecast(view)));
}

function withoutForecast(view: RunView): RunView {
  return { ...view, forecast: undefined };
}

/** Waits until nothing is in flight (a paused run's workers have let go of their tasks). */
async function quiet(orchestrator: Orchestrator, runId: string): Promise<void> {
  await eventually(async () => (await orchestrator.getRun(runId)).busyWorkers === 0, 'no busy worker');
}

function open(home: string, provider: ScriptedProvider, store?: Awaited<ReturnType<typeof freezableStore>>) {
  return createOrchestrator({
    home,
    loaded: testConfig(home, CONFIG),
    providers: () => provider,
    retryBaseMs: 1,
    ...(store && { store }),
  });
}

it('a client folding the journal holds what runs.get answers: retries, reworks, rollbacks, a crash', async () => {
  const { home, remove } = await tempHome('orc-journal-view-');
  cleanups.push(remove);

  // The first daemon: b's first attempt fails and is retried, c is sent back once, g never answers.
  const first = createScriptedProvider({
    usage: (call) => usage(call.purpose === 'work' ? 1000 : 300),
    latencyMs: (call) => (call.purpose !== 'work' ? 0 : call.taskId === 'g' ? 60_000 : 15),
    work: (call) => {
      if (call.taskId === 'b' && call.n === 1) throw new ModelError('transient', '529 overloaded');
      return `result of ${call.taskId} #${call.n}`;
    },
    review: (call) =>
      call.taskId === 'c' && call.n === 1
        ? { verdict: 'rework', feedback: 'Say more about C.' }
        : { verdict: 'accept', feedback: 'Good.' },
  });
  const store = freezableStore(await openFileRunStore(home));
  let before: Orchestrator | undefined = await open(home, first, store);
  cleanups.push(async () => before?.close(0));
  const { id: runId } = await before.startRun({ tasks: TASKS });
  const journal = () => readJournal(home, runId);
  const done = async (id: string) =>
    (await journal()).some((e) => e.type === 'task.completed' && e.taskId === id);
  await eventually(() => done('a'), 'a done');
  // From here the document stays as it is on disk while the journal goes on, as if the daemon were
  // killed now: b is retried, c reworked, g begun and cut off by the crash.
  store.freeze();
  await store.flush(runId);
  await eventually(async () => (await done('c')) && (await done('d')), 'c and d done');
  await eventually(
    async () => (await journal()).some((e) => e.type === 'task.assigned' && e.taskId === 'g'),
    'g begun',
  );
  await before.close(0);
  before = undefined;

  // The second daemon catches the document up from the journal; h fails, and a person retries it.
  const second = createScriptedProvider({
    usage: (call) => usage(call.purpose === 'work' ? 2000 : 400),
    work: (call) => {
      if (call.taskId === 'h' && call.n === 1) throw new ModelError('permanent', 'refused');
      return `second result of ${call.taskId} #${call.n}`;
    },
  });
  const after = await open(home, second);
  cleanups.push(() => after.close(0));
  expect((await after.waitForRun(runId)).status).toBe('failed');
  await expectFoldIsView(after, home, runId, 'after the crash, failed');
  const view = await after.getRun(runId, { full: true });
  const task = (id: string) => view.tasks.find((t) => t.id === id)!;
  // The scenario happened as meant.
  expect(task('b').attempts.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
  expect(task('c').attempts.map((a) => a.review?.verdict)).toEqual(['rework', 'accept']);
  expect(task('g').attempts.map((a) => a.outcome)).toEqual(['interrupted', 'succeeded']);
  expect(task('h').status).toBe('failed');

  await after.retryTask(runId, 'h');
  expect((await after.waitForRun(runId)).status).toBe('completed');
  await expectFoldIsView(after, home, runId, 'retried and completed');

  // A selective rollback of c: c and e run again once resumed.
  const checkpoints = await after.listCheckpoints(runId);
  const latest = checkpoints.at(-1)!;
  const selective = await after.rollback(runId, latest.id, 'selective', ['c']);
  expect(selective.rollback.reset.sort()).toEqual(['c', 'e']);
  await quiet(after, runId);
  await expectFoldIsView(after, home, runId, 'after a selective rollback');
  await after.resumeRun(runId);
  expect((await after.waitForRun(runId)).status).toBe('completed');
  await expectFoldIsView(after, home, runId, 'completed again');

  // A person edits the finished plan: a task added (the run reopens), one changed, one removed.
  await after.addTasks(runId, [
    { id: 'i', title: 'I', dependencies: ['h', 'j'], priority: 'high' },
    { id: 'j', title: 'J' },
    { id: 'k', title: 'K', dependencies: ['i'] },
  ]);
  await after.updateTask(runId, 'i', { description: 'I, explained' });
  await after.removeTask(runId, 'k', 'refuse');
  expect((await after.waitForRun(runId)).status).toBe('completed');
  await expectFoldIsView(after, home, runId, 'after plan edits');

  // A full rollback to the plan: every task as it was then.
  await after.rollback(runId, checkpoints[0]!.id, 'full');
  await quiet(after, runId);
  await expectFoldIsView(after, home, runId, 'after a full rollback');
  await after.resumeRun(runId);
  expect((await after.waitForRun(runId)).status).toBe('completed');
  await expectFoldIsView(after, home, runId, 'at the end');

  // Each answer is told once: it came whole, so no `worker.output` told it before its `task.worked`, and
  // no `task.completed` tells it again as its result.
  const events = await journal();
  const answers = events.filter((e) => e.type === 'task.worked');
  expect(answers.length).toBeGreaterThan(TASKS.length);
  expect(answers.every((e) => e.streamed === 0)).toBe(true);
  expect(events.filter((e) => e.type === 'worker.output')).toEqual([]);
  const completions = events.filter((e) => e.type === 'task.completed');
  expect(completions.length).toBeGreaterThan(TASKS.length);
  expect(completions.filter((e) => e.result !== undefined)).toEqual([]);
});
