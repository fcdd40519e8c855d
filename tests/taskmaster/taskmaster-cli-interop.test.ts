import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScriptedProvider, openTestEngine, type TestEngine } from '@orc/test-support';
import type { TaskRecord } from '@orc/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listTasks, TaskMasterCli, type ListedTask } from '../support/task-master-cli.js';

/**
 * Interop with the real Task Master CLI (task-master-ai 0.43): projects are built with its own commands,
 * our write-back is read back with its list, next and validate-dependencies, and a person's commands
 * during a run (set-status, remove-task, add-task) are neither lost nor overwritten.
 */

let cli: TaskMasterCli;
/** A project built once with the CLI; each test works on a copy. */
let template: string;
const dirs: string[] = [];
let engine: TestEngine | undefined;

beforeAll(async () => {
  cli = await TaskMasterCli.create();
  template = await mkdtemp(join(tmpdir(), 'orc-tm-template-'));
  await cli.init(template);
  const add = (...args: string[]) => cli.ok(template, ['add-task', ...args]);
  await add('--title', 'Schema', '--description', 'Design the schema', '--priority', 'high'); // 1
  await add('--title', 'API', '--description', 'Write the API', '--dependencies', '1'); // 2
  await cli.ok(template, ['add-subtask', '--parent', '2', '--title', 'Routes', '--description', 'Routes']);
  await cli.ok(template, [
    'add-subtask',
    '--parent',
    '2',
    '--title',
    'Handlers',
    '--description',
    'Handlers',
    '--dependencies',
    '2.1',
  ]);
  // A task that waits on a subtask: a dotted dependency. (add-task --dependencies 2.2 stores 2 in 0.43.)
  await add('--title', 'Docs', '--description', 'Document the API'); // 3
  await cli.ok(template, ['add-dependency', '--id', '3', '--depends-on', '2.2']);
  await add('--title', 'Release', '--description', 'Ship it', '--dependencies', '3'); // 4
  await add('--title', 'Changelog', '--description', 'Write the changelog'); // 5
  // Another tag with a copy of the tasks: a run of master must leave it alone.
  await cli.ok(template, ['add-tag', 'feature', '--copy-from-current', '--description', 'Feature work']);
}, 600_000);

afterAll(async () => {
  await rm(template, { recursive: true, force: true });
  await cli.cleanup();
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function copyOfTemplate(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'orc-tm-project-'));
  dirs.push(dir);
  await cp(template, dir, { recursive: true });
  return dir;
}

function flatten(tasks: ListedTask[]): Map<string, ListedTask> {
  const out = new Map<string, ListedTask>();
  for (const task of tasks) {
    out.set(String(task.id), task);
    for (const sub of task.subtasks ?? []) out.set(`${task.id}.${sub.id}`, sub);
  }
  return out;
}

async function nextTask(dir: string): Promise<string | undefined> {
  const out = await cli.ok(dir, ['next', '--format', 'json']);
  const next = JSON.parse(out.slice(out.indexOf('{'))) as { task: { id: string | number } | null };
  return next.task === null ? undefined : String(next.task.id);
}

async function expectValidDependencies(dir: string): Promise<void> {
  const result = await cli.run(dir, ['validate-dependencies']);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(result.stdout).toContain('No invalid dependencies found');
  expect(result.stderr).not.toMatch(/invalid|error/i);
}

describe('the real task-master CLI', () => {
  it("names the task and the field of a hand-edited mistake in its file, never the schema's path", async () => {
    const dir = await copyOfTemplate();
    const file = join(dir, '.taskmaster', 'tasks', 'tasks.json');
    const made = await readFile(file, 'utf8');
    type Entry = { id: number; dependencies: unknown[]; metadata?: unknown; subtasks?: Entry[] };
    const edited = async (edit: (tasks: Entry[]) => void) => {
      const data = JSON.parse(made) as { master: { tasks: Entry[] } };
      edit(data.master.tasks);
      await writeFile(file, JSON.stringify(data, null, 2));
      return JSON.stringify(data, null, 2);
    };
    engine = await openTestEngine({ provider: createScriptedProvider() });
    const refused = async () => {
      const error = await engine!.orchestrator.startRun({ taskmaster: { path: dir } }).then(
        () => undefined,
        (e: unknown) => e as Error & { code: string },
      );
      expect(error?.code).toBe('TASK_FILE_INVALID');
      return error!.message.slice(`Task Master file ${file}, tag "master": `.length);
    };

    // The 4th task's dependency written as an object: "tasks.3.dependencies.0" said neither.
    await edited((tasks) => (tasks[3]!.dependencies = [{ id: 3 }]));
    expect(await refused()).toBe(
      'task 4: dependencies must be a list of task ids (whole numbers or strings) (got {"id":3}); fix it in the file',
    );
    // A subtask's touched path outside the repository, and a touched path that is no text.
    await edited((tasks) => (tasks[1]!.subtasks![0]!.metadata = { touches: ['../shared'] }));
    expect(await refused()).toBe(
      'task 2.1: metadata.touches "../shared": touched paths may not contain ".."; fix it in the file',
    );
    const last = await edited((tasks) => (tasks[4]!.metadata = { touches: ['docs/', 7] }));
    expect(await refused()).toBe(
      'task 5: metadata.touches must be a list of paths or globs (got 7); fix it in the file',
    );
    // orc wrote nothing to the file; put back, Task Master reads it as it made it.
    expect(await readFile(file, 'utf8')).toBe(last);
    await writeFile(file, made);
    expect(flatten(await listTasks(cli, dir)).size).toBe(7);
  }, 120_000);

  it('reads back what a run wrote: list, next and validate-dependencies', async () => {
    const dir = await copyOfTemplate();
    expect(await nextTask(dir)).toBe('1');
    const provider = createScriptedProvider({ work: (call) => `Summary: did ${call.taskId ?? '?'}` });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 3 } } });

    // Part of the tag first: task 1 and subtask 2.1 (which needs 1).
    const part = await engine.orchestrator.startRun({ taskmaster: { path: dir, only: ['2.1'] } });
    expect((await engine.orchestrator.waitForRun(part.id)).status).toBe('completed');
    let tasks = flatten(await listTasks(cli, dir));
    expect(['1', '2.1', '2.2', '2'].map((id) => tasks.get(id)!.status)).toEqual([
      'done',
      'done',
      'pending',
      'pending',
    ]);
    // Task Master goes on where the run stopped: what waited only on 1 and 2.1 is next (5 needs nothing).
    expect(['2.2', '5']).toContain(await nextTask(dir));

    const rest = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
    expect((await engine.orchestrator.waitForRun(rest.id)).status).toBe('completed');
    const docs = (await engine.orchestrator.getRun(rest.id)).tasks.find((t) => t.id === '3')!;
    expect(docs.dependencies).toEqual(['2.2']);
    await engine.close();
    engine = undefined;

    tasks = flatten(await listTasks(cli, dir));
    expect([...tasks].map(([id, t]) => [id, t.status])).toEqual([
      ['1', 'done'],
      ['2', 'done'],
      ['2.1', 'done'],
      ['2.2', 'done'],
      ['3', 'done'],
      ['4', 'done'],
      ['5', 'done'],
    ]);
    const shown = await cli.ok(dir, ['show', '3']);
    expect(shown).toContain('did 3');
    expect(await nextTask(dir)).toBeUndefined();
    await expectValidDependencies(dir);
    // Another tag is not touched.
    const feature = flatten(await listTasks(cli, dir, 'feature'));
    expect(feature.size).toBe(7);
    expect([...feature.values()].every((t) => t.status === 'pending')).toBe(true);
  }, 300_000);

  it("keeps a person's set-status and remove-task made during a run, and shows them on the run", async () => {
    const dir = await copyOfTemplate();
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
    provider.hold();
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
    await provider.whenInFlight(1, 30_000);
    expect(provider.callsFor('work').map((c) => c.taskId)).toEqual(['1']);

    // While task 1 is worked on, a person reviews it and changes what has not started.
    await cli.ok(dir, ['set-status', '--id', '1', '--status', 'review']);
    await cli.ok(dir, ['set-status', '--id', '2.1', '--status', 'cancelled']);
    await cli.ok(dir, ['set-status', '--id', '2.2', '--status', 'done']);
    await cli.ok(dir, ['set-status', '--id', '3', '--status', 'deferred']);
    await cli.ok(dir, ['remove-task', '--id', '5', '--yes']);
    provider.release();
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');

    const view = await engine.orchestrator.getRun(run.id);
    const byId = new Map(view.tasks.map((t): [string, TaskRecord] => [t.id, t]));
    const shown = (id: string) => {
      const task = byId.get(id)!;
      return [task.status, task.sourceChange?.status, task.sourceChange?.action];
    };
    expect(shown('1')).toEqual(['done', 'review', 'not-written']);
    expect(shown('2.1')).toEqual(['skipped', 'cancelled', 'not-started']);
    expect(shown('2.2')).toEqual(['skipped', 'done', 'not-started']);
    // Setting a subtask's status, Task Master moves its parent to in-progress: someone is on it, so the
    // run holds it too.
    expect(shown('2')).toEqual(['blocked', 'in-progress', 'not-started']);
    expect(shown('3')).toEqual(['blocked', 'deferred', 'not-started']);
    expect(byId.get('4')).toMatchObject({
      status: 'blocked',
      held: 'waits for 3, which is deferred in Task Master',
    });
    expect(shown('5')).toEqual(['skipped', 'removed', 'not-started']);
    // Only task 1 was worked on.
    expect(provider.callsFor('work').map((c) => c.taskId)).toEqual(['1']);
    await engine.close();
    engine = undefined;

    const tasks = flatten(await listTasks(cli, dir));
    expect([...tasks].map(([id, t]) => [id, t.status])).toEqual([
      ['1', 'review'],
      ['2', 'in-progress'],
      ['2.1', 'cancelled'],
      ['2.2', 'done'],
      ['3', 'deferred'],
      ['4', 'pending'],
    ]);
    const file = JSON.parse(await readFile(join(dir, '.taskmaster', 'tasks', 'tasks.json'), 'utf8')) as {
      master: { tasks: { id: number | string; details?: string }[] };
    };
    // Nothing of the run was written over the person's review.
    expect(file.master.tasks.find((t) => String(t.id) === '1')!.details ?? '').not.toContain('info added on');
    await expectValidDependencies(dir);
  }, 300_000);

  it('loses no write when people run set-status and add-task while the run writes back', async () => {
    const dir = await copyOfTemplate();
    // Thirty more tasks for the run to write back, in the project the CLI made.
    const file = join(dir, '.taskmaster', 'tasks', 'tasks.json');
    const data = JSON.parse(await readFile(file, 'utf8')) as { master: { tasks: object[] } };
    for (let id = 6; id <= 40; id++) {
      data.master.tasks.push({
        id,
        title: `Chore ${id}`,
        description: `Chore ${id}`,
        details: '',
        testStrategy: '',
        status: 'pending',
        dependencies: [],
        priority: 'medium',
        subtasks: [],
      });
    }
    await writeFile(file, JSON.stringify(data, null, 2));
    const only = Array.from({ length: 30 }, (_, i) => String(i + 6)); // 6..35; 36..40 are the people's
    const edits: { command: string; duringRun: boolean }[] = [];
    // The run keeps writing back (claims and results every second or so) until the people made six edits;
    // on a loaded machine (each task-master call took 7 s) it could end first, so its last works wait for them.
    const provider = createScriptedProvider({
      latencyMs: (call) => {
        if (edits.length >= 6) return 0;
        if (call.purpose === 'work' && provider.callsFor('work').length >= 25) provider.hold();
        return 1500;
      },
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 2 } } });
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir, only } });
    const finished = engine.orchestrator.waitForRun(run.id);
    let over = false;
    void finished.finally(() => (over = true));

    // Two people, each command after the last, for as long as the run goes on. They take turns: Task
    // Master's own commands lose each other's writes when two run at once (each reads the file before it
    // takes the lock and writes its whole tag after), which is between them, not the run's to mend.
    let turn = Promise.resolve();
    const person = async (n: number) => {
      for (let i = 0; !over || i < 2; i++) {
        const id = String(36 + ((n * 3 + i) % 5));
        const args =
          i % 2 === 0
            ? ['set-status', '--id', id, '--status', i % 4 === 0 ? 'in-progress' : 'review']
            : ['add-task', '--title', `Added by person ${n} #${i}`, '--description', 'during the run'];
        const command = turn.then(() => cli.ok(dir, args));
        turn = command.then(() => undefined);
        await command;
        edits.push({ command: args.join(' '), duringRun: !over });
        if (edits.length >= 6) provider.release();
      }
    };
    await Promise.all([person(0), person(1), finished]);
    expect((await finished).status).toBe('completed');
    expect(edits.filter((e) => e.duringRun).length).toBeGreaterThanOrEqual(6);
    await engine.close();
    engine = undefined;

    const tasks = await listTasks(cli, dir);
    const byId = flatten(tasks);
    for (const id of only) expect(byId.get(id)!.status, `task ${id}`).toBe('done');
    // Every add-task is there, and the last status each person set on a task stayed.
    const added = tasks
      .filter((t) => t.title.startsWith('Added by person'))
      .map((t) => t.title)
      .sort();
    expect(added).toEqual(
      edits
        .filter((e) => e.command.startsWith('add-task'))
        .map((e) => /--title (Added by person \d #\d+)/.exec(e.command)![1])
        .sort(),
    );
    const lastStatus = new Map<string, string>();
    for (const edit of edits) {
      const match = /^set-status --id (\d+) --status (\S+)$/.exec(edit.command);
      if (match) lastStatus.set(match[1]!, match[2]!);
    }
    expect(lastStatus.size).toBeGreaterThan(0);
    for (const [id, status] of lastStatus) expect(byId.get(id)!.status, `task ${id}`).toBe(status);
    await expectValidDependencies(dir);
  }, 600_000);
});
