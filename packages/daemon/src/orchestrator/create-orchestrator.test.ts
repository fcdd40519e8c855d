import { OrcError, type OrcEvent, type TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import {
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  quietTree,
  readTree,
  type TestEngine,
} from '@orc/test-support';

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const task = (
  id: string,
  dependencies: string[] = [],
  extra: Partial<TaskSpecInput> = {},
): TaskSpecInput => ({
  id,
  title: `Task ${id}`,
  dependencies,
  ...extra,
});

const ofType = <T extends OrcEvent['type']>(events: OrcEvent[], type: T) =>
  events.filter((e): e is Extract<OrcEvent, { type: T }> => e.type === type);

describe('createOrchestrator', () => {
  it('plans a goal, runs every task and stores the final review', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider });
    const { orchestrator } = engine;
    const started = await orchestrator.startRun({ goal: 'do two things' });
    expect(started.status).toBe('analyzing');
    const summary = await orchestrator.waitForRun(started.id);
    expect(summary.status).toBe('completed');
    const view = await orchestrator.getRun(started.id, { full: true });
    expect(view.tasks.map((t) => [t.id, t.status, t.result])).toEqual([
      ['a', 'done', 'result of a #1'],
      ['b', 'done', 'result of b #1'],
    ]);
    expect(view.finalReview).toEqual({ verdict: 'success', summary: 'Everything was done.', followUps: [] });
    expect(provider.callsFor('plan')).toHaveLength(1);
    expect(provider.callsFor('final-review')).toHaveLength(1);
    const events = await readJournal(engine.home, started.id);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(ofType(events, 'run.completed')).toHaveLength(1);
    expect(orchestrator.listRuns().map((r) => r.id)).toEqual([started.id]);
  });

  it("refuses a run whose task is invalid by the task and the field, never the schema's path", async () => {
    engine = await openTestEngine({ provider: createScriptedProvider() });
    const refused = (tasks: unknown[]) =>
      engine!.orchestrator.startRun({ tasks } as never).then(
        () => undefined,
        (e: unknown) => e as OrcError,
      );
    // A client sent task t4's dependency as a number: "invalid run: tasks.3.dependencies.0: …" said neither.
    const numbered = await refused([
      task('t1'),
      task('t2'),
      task('t3'),
      { ...task('t4'), dependencies: [7] },
    ]);
    expect(numbered).toMatchObject({
      code: 'TASK_FILE_INVALID',
      message: 'invalid run: task t4: dependencies 7: expected string, received number',
    });
    expect(await refused([task('a'), { title: 'no id' }])).toMatchObject({
      message: expect.stringMatching(
        /^invalid run: task 2 \(tasks\[1\]\) has no id; give it "id"/,
      ) as unknown,
    });
    expect(await refused([{ ...task('a'), dependency: ['b'] }])).toMatchObject({
      message: 'invalid run: task a: unknown field "dependency"; did you mean "dependencies"?',
    });
    expect(engine.orchestrator.listRuns()).toEqual([]);
  });

  it('skips planning for an imported task list', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({
      tasks: [task('x'), task('y', ['x'])],
      source: 'tasks.json',
    });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('plan')).toEqual([]);
    expect(provider.callsFor('work').map((c) => c.taskId)).toEqual(['x', 'y']);
    expect(run.goal).toBe('Complete the 2 tasks from tasks.json');
    // One task reads as one, not '1 tasks'.
    const one = await engine.orchestrator.startRun({ tasks: [task('z')], source: 'one.json' });
    await engine.orchestrator.waitForRun(one.id);
    const done = await engine.orchestrator.getRun(one.id);
    expect([one.goal, done.planSummary]).toEqual([
      'Complete the 1 task from one.json',
      '1 imported task, run as given.',
    ]);
  });

  it('sends an invalid plan back with the validation error at most twice, then fails the run with it', async () => {
    const cycle = {
      summary: 'loop',
      tasks: [
        { id: 'a', title: 'A', description: '', dependencies: ['b'], priority: 'medium' as const },
        { id: 'b', title: 'B', description: '', dependencies: ['a'], priority: 'medium' as const },
      ],
    };
    const provider = createScriptedProvider({
      plan: (call) => (call.n === 1 ? '{"summary": "half a plan"' : cycle),
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ goal: 'loop forever' });
    const summary = await engine.orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/the plan: dependency cycle (a -> b -> a|b -> a -> b); remove one/);
    const plans = provider.callsFor('plan');
    expect(plans).toHaveLength(3);
    expect(plans[1]!.request.prompt).toMatch(/Your previous plan was refused: the plan is not valid JSON/);
    expect(plans[2]!.request.prompt).toMatch(/Your previous plan was refused: the plan: dependency cycle/);
    expect(provider.callsFor('work')).toEqual([]);
    const events = await readJournal(engine.home, run.id);
    expect(ofType(events, 'run.plan_rejected').map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(ofType(events, 'run.failed')[0]!.error).toBe(summary.error);
  });

  it('dispatches by critical path, then priority, then natural id order', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
    const tasks = [
      task('t10'),
      task('t2'),
      task('t1'),
      task('urgent', [], { priority: 'critical' }),
      task('head'),
      task('tail', ['head']),
    ];
    const run = await engine.orchestrator.startRun({ tasks });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work').map((c) => c.taskId)).toEqual([
      'head',
      'urgent',
      't1',
      't2',
      't10',
      'tail',
    ]);
  });

  it('retries transient failures, counting each attempt, then completes', async () => {
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'a' && call.n <= 2)
          throw new ModelError('transient', `overloaded, try ${call.n}`);
        return `result of ${call.taskId}`;
      },
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ tasks: [task('a'), task('b', ['a'])] });
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    const a = (await engine.orchestrator.getRun(run.id, { full: true })).tasks.find((t) => t.id === 'a')!;
    expect(a.attempts.map((x) => x.outcome)).toEqual(['failed', 'failed', 'succeeded']);
    expect(a.attempts[0]!.error).toEqual({ category: 'transient', message: 'overloaded, try 1' });
    const failed = ofType(await readJournal(engine.home, run.id), 'task.attempt_failed');
    expect(failed.map((e) => [e.taskId, e.attempt])).toEqual([
      ['a', 1],
      ['a', 2],
    ]);
    expect(failed.every((e) => e.retryInMs !== undefined)).toBe(true);
  });

  it('fails a task on a permanent error with a clear reason, and the run with it', async () => {
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'a')
          throw new ModelError('permanent', 'the Anthropic API rejected the request (400)');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ tasks: [task('a'), task('b', ['a']), task('c')] });
    const summary = await engine.orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe(
      `1 task failed (first: a: permanent error: the Anthropic API rejected the request (400)); ` +
        `1 task never ran because a dependency did not finish; fix the cause, then orc retry ${run.id} <task>`,
    );
    const view = await engine.orchestrator.getRun(run.id, { full: true });
    const byId = new Map(view.tasks.map((t) => [t.id, t]));
    expect(byId.get('a')!.status).toBe('failed');
    expect(byId.get('a')!.error).toBe('permanent error: the Anthropic API rejected the request (400)');
    expect(byId.get('a')!.attempts).toHaveLength(1);
    expect(byId.get('b')!.status).toBe('pending');
    expect(byId.get('c')!.status).toBe('done');
  });

  it('lets a failed task be retried, and the run then completes', async () => {
    let broken = true;
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 'a' && broken) throw new ModelError('permanent', 'bad request');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider });
    const { orchestrator } = engine;
    const run = await orchestrator.startRun({ tasks: [task('a'), task('b', ['a'])] });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('failed');
    broken = false;
    await orchestrator.retryTask(run.id, 'a');
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('completed');
    expect(summary.error).toBeUndefined();
    await expect(orchestrator.retryTask(run.id, 'a')).rejects.toThrow(/task a is done/);
    await expect(orchestrator.getRun('nope')).rejects.toThrow(OrcError);
  });

  it('goes on after a clean close and reopen on the same home, without redoing finished tasks', async () => {
    const provider = createScriptedProvider({ latencyMs: 5 });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2 } } });
    const tasks = Array.from({ length: 12 }, (_, i) => task(`t${i + 1}`, i > 1 ? [`t${i - 1}`] : []));
    const run = await engine.orchestrator.startRun({ tasks });
    await eventually(
      async () => ((await engine!.orchestrator.getRun(run.id)).taskCounts['done'] ?? 0) >= 3,
      'three tasks done',
    );
    await engine.orchestrator.close(0);
    const doneBefore = new Set(
      (await readJournal(engine.home, run.id)).flatMap((e) =>
        e.type === 'task.completed' ? [e.taskId] : [],
      ),
    );
    const reopened = await openTestEngine({ provider, home: engine.home });
    const previous = engine;
    engine = { ...reopened, close: async () => (await reopened.close(), await previous.close()) };
    const summary = await reopened.orchestrator.waitForRun(run.id, AbortSignal.timeout(5000));
    expect(summary.status).toBe('completed');
    for (const id of doneBefore) expect(provider.callsFor('work', id), `${id} ran twice`).toHaveLength(1);
    expect(
      (await reopened.orchestrator.getRun(run.id, { full: true })).tasks.every((t) => t.status === 'done'),
    ).toBe(true);
  });

  it('goes on after a reopen when it was closed at once, while its first checkpoint was being written', async () => {
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider });
    const run = await engine.orchestrator.startRun({ tasks: [task('a'), task('b', ['a'])] });
    await engine.orchestrator.close(0);
    const reopened = await openTestEngine({ provider, home: engine.home });
    const previous = engine;
    engine = { ...reopened, close: async () => (await reopened.close(), await previous.close()) };
    const summary = await reopened.orchestrator.waitForRun(run.id, AbortSignal.timeout(3000));
    expect(summary.status).toBe('completed');
  });

  describe('bad input', () => {
    const cases: [string, TaskSpecInput[], RegExp][] = [
      [
        'a dependency cycle',
        [task('a', ['c']), task('b', ['a']), task('c', ['b'])],
        /tasks\.json: dependency cycle a -> c -> b -> a; remove one of these dependencies/,
      ],
      [
        'an unknown dependency',
        [task('a'), task('b', ['zz'])],
        /tasks\.json: task "b" depends on "zz", which is not a task in it/,
      ],
      ['a duplicate id', [task('a'), task('a')], /task id "a" is used twice/],
    ];
    for (const [what, tasks, message] of cases) {
      it(`refuses ${what} with TASK_FILE_INVALID and leaves the store unchanged`, async () => {
        const provider = createScriptedProvider();
        engine = await openTestEngine({ provider });
        const first = await engine.orchestrator.startRun({ tasks: [task('ok')] });
        await engine.orchestrator.waitForRun(first.id);
        // The planned checkpoint is the run's last background write; then wait for the files to rest.
        await eventually(
          async () =>
            (await readJournal(engine!.home, first.id)).some((e) => e.type === 'checkpoint.created'),
          'the planned checkpoint',
        );
        const before = await quietTree(engine.home, 150);
        const error = await engine.orchestrator
          .startRun({ tasks, source: 'tasks.json' })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OrcError);
        expect(error).toMatchObject({ code: 'TASK_FILE_INVALID' });
        expect((error as OrcError).message).toMatch(message);
        expect(await readTree(engine.home)).toEqual(before);
        expect(engine.orchestrator.listRuns()).toHaveLength(1);
        expect(provider.calls.filter((c) => c.purpose === 'work')).toHaveLength(1);
      });
    }

    it('refuses a run with neither goal nor tasks', async () => {
      engine = await openTestEngine({ provider: createScriptedProvider() });
      await expect(engine.orchestrator.startRun({})).rejects.toMatchObject({
        code: 'TASK_FILE_INVALID',
        message: expect.stringMatching(/give (exactly one of )?a goal/) as unknown,
      });
    });
  });
});
