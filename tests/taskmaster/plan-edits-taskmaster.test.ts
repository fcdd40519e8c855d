import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

it('numbers a task added through orc above every task in the file, done ones too; a task added by hand joins', async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-tm-edit-'));
  const file = join(dir, '.taskmaster', 'tasks', 'tasks.json');
  await mkdir(join(dir, '.taskmaster', 'tasks'), { recursive: true });
  const task = (id: number, status: string, dependencies: number[] = []) => ({
    id,
    title: `Task ${id}`,
    description: `Do ${id}`,
    status,
    dependencies,
    priority: 'medium',
    subtasks: [],
  });
  const write = (tasks: unknown[]) =>
    writeFile(file, JSON.stringify({ master: { tasks, metadata: {} } }, null, 2));
  // Task 3 is done: the run leaves it out, and its number stays taken.
  await write([task(1, 'pending'), task(2, 'pending', [1]), task(3, 'done')]);
  const provider = createScriptedProvider();
  provider.hold();
  engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
  const { orchestrator } = engine;
  const run = await orchestrator.startRun({ taskmaster: { path: dir } });
  await provider.whenInFlight(1, 30_000);
  // The source reads the file once it follows the run: wait for its numbers.
  await eventually(async () => {
    const probe = await orchestrator.addTasks(run.id, [{ title: 'Probe', dependencies: ['2'] }]);
    if (probe.added[0] === '4') return true;
    // Numbered before the file was read (3, the done task's): it goes, and the file keeps the person's 3.
    await orchestrator.removeTask(run.id, probe.added[0]!, 'refuse');
    return false;
  }, 'the run to number above the done task 3');
  const added = await orchestrator.addTasks(run.id, [{ title: 'Extra', dependencies: ['2'] }]);
  expect(added.added).toEqual(['5']);

  // A person adds a task by hand, as Task Master would write it: the run takes it in.
  await eventually(async () => {
    const text = await readFile(file, 'utf8');
    return (JSON.parse(text) as { master: { tasks: { id: number }[] } }).master.tasks.some((t) => t.id === 5);
  }, 'task 5 written to the file');
  const now = JSON.parse(await readFile(file, 'utf8')) as { master: { tasks: unknown[] } };
  await write([...now.master.tasks, task(6, 'pending', [5])]);
  await eventually(
    async () => (await orchestrator.getRun(run.id)).tasks.some((t) => t.id === '6'),
    'the run to take in task 6',
    15_000,
  );
  provider.release();
  expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  // 5 before 4: task 6 waits for it, so its chain is the longer.
  expect(provider.callsFor('work').map((c) => c.taskId)).toEqual(['1', '2', '5', '4', '6']);
  const final = JSON.parse(await readFile(file, 'utf8')) as {
    master: { tasks: { id: number; status: string }[] };
  };
  expect(final.master.tasks.map((t) => [t.id, t.status])).toEqual([
    [1, 'done'],
    [2, 'done'],
    [3, 'done'],
    [4, 'done'],
    [5, 'done'],
    [6, 'done'],
  ]);
}, 120_000);

it('takes in a task added with task-master add-task while the daemon was down, once the run is restored', async () => {
  cli = await TaskMasterCli.create();
  dir = await mkdtemp(join(tmpdir(), 'orc-tm-down-'));
  await cli.init(dir);
  const add = (...args: string[]) => cli!.ok(dir!, ['add-task', ...args]);
  await add('--title', 'Schema', '--description', 'Design the schema'); // 1
  await add('--title', 'API', '--description', 'Write the API', '--dependencies', '1'); // 2
  await add('--title', 'Notes', '--description', 'Done before the run'); // 3
  await cli.ok(dir, ['set-status', '--id', '3', '--status', 'done']);

  const provider = createScriptedProvider();
  provider.hold();
  engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
  const { home } = engine;
  const run = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
  await provider.whenInFlight(1, 30_000);
  // The daemon stops while task 1 runs; meanwhile a person adds a task with Task Master.
  await engine.orchestrator.close(0);
  await add('--title', 'Tests', '--description', 'Write the tests', '--dependencies', '2'); // 4

  const reopened = await openTestEngine({ provider, home, config: { execution: { max_workers: 1 } } });
  const first = engine;
  engine = { ...reopened, close: async () => (await reopened.close(), await first.close()) };
  await eventually(
    async () => (await reopened.orchestrator.getRun(run.id)).tasks.some((t) => t.id === '4'),
    'the restored run to take in task 4',
    15_000,
  );
  // The journal's group commit may land a moment after the view moved.
  const added = async () => (await readJournal(home, run.id)).filter((e) => e.type === 'plan.tasks_added');
  await eventually(async () => (await added()).length > 0, 'task 4 journalled', 15_000);
  const taken = await added();
  expect(taken).toMatchObject([
    { origin: 'source', tasks: [{ id: '4', title: 'Tests', dependencies: ['2'] }] },
  ]);
  provider.release();
  expect((await reopened.orchestrator.waitForRun(run.id)).status).toBe('completed');
  // The done task 3 was not the run's at import, and is not an addition now.
  expect((await reopened.orchestrator.getRun(run.id)).tasks.map((t) => t.id)).toEqual(['1', '2', '4']);
  await engine.close();
  engine = undefined;
  const listed = await listTasks(cli, dir);
  expect(listed.map((t) => [String(t.id), t.status])).toEqual([
    ['1', 'done'],
    ['2', 'done'],
    ['3', 'done'],
    ['4', 'done'],
  ]);
}, 300_000);
