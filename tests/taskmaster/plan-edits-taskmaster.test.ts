import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  type TestEngine,
} from '@orc/test-support';
import { afterEach, expect, it } from 'vitest';
import { listTasks, TaskMasterCli } from '../support/task-master-cli.js';

/**
 * A Task Master run whose plan changes while it runs, on both sides, with the real CLI (task-master-ai
 * 0.43): a task a person adds with `task-master add-task` mid-run is taken into the run and worked, and
 * the edits made through orc (add, edit, remove) are in tasks.json, where Task Master's own list and
 * validate-dependencies read them.
 */

let cli: TaskMasterCli | undefined;
let dir: string | undefined;
let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  await cli?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
  engine = cli = dir = undefined;
});

it('takes in a task added with task-master add-task mid-run, and writes orc edits to tasks.json', async () => {
  cli = await TaskMasterCli.create();
  dir = await mkdtemp(join(tmpdir(), 'orc-tm-edit-'));
  await cli.init(dir);
  const add = (...args: string[]) => cli!.ok(dir!, ['add-task', ...args]);
  await add('--title', 'Schema', '--description', 'Design the schema'); // 1
  await add('--title', 'API', '--description', 'Write the API', '--dependencies', '1'); // 2
  await add('--title', 'Docs', '--description', 'Document it'); // 3

  const provider = createScriptedProvider();
  engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
  provider.hold();
  const { orchestrator, home } = engine;
  const run = await orchestrator.startRun({ taskmaster: { path: dir } });
  await provider.whenInFlight(1, 30_000);

  // A person adds a task with Task Master while the run works on task 1: the run takes it in.
  await add('--title', 'Tests', '--description', 'Write the tests', '--dependencies', '2'); // 4
  await eventually(
    async () => (await orchestrator.getRun(run.id)).tasks.some((t) => t.id === '4'),
    'the run to take in task 4',
    15_000,
  );
  const taken = (await readJournal(home, run.id)).find((e) => e.type === 'plan.tasks_added');
  expect(taken).toMatchObject({
    origin: 'source',
    tasks: [{ id: '4', title: 'Tests', dependencies: ['2'] }],
  });

  // Edits through orc: a task added (the next Task Master number), one changed, one removed.
  const added = await orchestrator.addTasks(run.id, [
    { title: 'Benchmarks', description: 'Measure it', dependencies: ['4'], priority: 'low' },
  ]);
  expect(added.added).toEqual(['5']);
  await orchestrator.updateTask(run.id, '3', {
    title: 'Docs, revised',
    dependencies: ['1'],
    priority: 'high',
  });
  await orchestrator.removeTask(run.id, '2', 'keep');
  provider.release();
  expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  expect(
    provider
      .callsFor('work')
      .map((c) => c.taskId)
      .sort(),
  ).toEqual(['1', '3', '4', '5']);
  await engine.close();
  engine = undefined;

  // Task Master reads back the plan as it was edited, every task done.
  const listed = await listTasks(cli, dir);
  expect(listed.map((t) => [String(t.id), t.title, t.status, t.dependencies.map(String)])).toEqual([
    ['1', 'Schema', 'done', []],
    ['3', 'Docs, revised', 'done', ['1']],
    ['4', 'Tests', 'done', []],
    ['5', 'Benchmarks', 'done', ['4']],
  ]);
  const file = JSON.parse(await readFile(join(dir, '.taskmaster', 'tasks', 'tasks.json'), 'utf8')) as {
    master: { tasks: { id: number; priority: string }[] };
  };
  expect(file.master.tasks.map((t) => [t.id, t.priority])).toEqual([
    [1, 'medium'],
    [3, 'high'],
    [4, 'medium'],
    [5, 'low'],
  ]);
  const valid = await cli.run(dir, ['validate-dependencies']);
  expect(valid.code, valid.stdout + valid.stderr).toBe(0);
  expect(valid.stdout).toContain('No invalid dependencies found');
}, 300_000);
