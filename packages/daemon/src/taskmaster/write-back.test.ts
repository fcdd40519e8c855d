import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isOrcError } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { loadTaskMasterProject } from './import-tasks.js';
import { removeTempProjects, tempProject, TASKMASTER_FIXTURES } from '@orc/test-support';
import { TaskMasterWriteBack } from './write-back.js';

afterEach(removeTempProjects);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Item = {
  id: number | string;
  status?: string;
  details?: string;
  subtasks?: Item[];
  [key: string]: Json | Item[] | undefined;
};

/** A fixed time for the `<info added on …>` stamps. */
const fixedClock: Clock = {
  now: () => Date.parse('2026-05-01T12:00:00.000Z'),
  sleep: (ms, signal) => systemClock.sleep(ms, signal),
};

function tasksOf(data: Json): Item[] {
  const root = data as { master?: { tasks: Item[] }; tasks?: Item[] };
  return root.master?.tasks ?? root.tasks!;
}

function findItem(data: Json, id: string): Item {
  const [taskId, subId] = id.split('.');
  const task = tasksOf(data).find((t) => String(t.id) === taskId)!;
  return subId === undefined ? task : task.subtasks!.find((s) => String(s.id) === subId)!;
}

/** Every leaf of `before` is in `after` with the same value, except where `changes(path)` allows a change. */
function expectKept(before: Json, after: Json, at: string, changes: (at: string) => boolean): void {
  if (before !== null && typeof before === 'object') {
    expect(after, at).toBeTypeOf('object');
    for (const [key, value] of Object.entries(before)) {
      expect(after, at).toHaveProperty([key]);
      expectKept(value, (after as Record<string, Json>)[key]!, `${at}/${key}`, changes);
    }
  } else if (!changes(at)) {
    expect(after, at).toStrictEqual(before);
  }
}

async function filesNextTo(file: string): Promise<string[]> {
  return (await readdir(path.dirname(file))).sort();
}

describe('writing back every runnable task as done', () => {
  it.each(TASKMASTER_FIXTURES)(
    '%s: parses, keeps every field, has every runnable task done',
    async (name) => {
      const { dir, file } = await tempProject({ fixture: name });
      const beforeText = await readFile(file, 'utf8');
      const before = JSON.parse(beforeText) as Json;
      const imported = await loadTaskMasterProject(dir, { env: {} });
      const writeBack = new TaskMasterWriteBack({
        file: imported.file,
        tag: imported.tag,
        clock: fixedClock,
        gapMs: 0, // nobody else is waiting for the lock here
      });

      // Fired all at once, as the engine would; the write-back queues them.
      await Promise.all(
        imported.specs.flatMap((spec) => [
          writeBack.markStarted(spec.id),
          writeBack.markDone(spec.id, `summary of ${spec.id}`),
        ]),
      );

      const afterText = await readFile(file, 'utf8');
      const after = JSON.parse(afterText) as Json;
      // Task Master's own formatting: 2 spaces, no trailing newline; the layout stays as found.
      expect(afterText).toBe(JSON.stringify(after, null, 2));
      expect(Object.keys(after as object)).toEqual(Object.keys(before as object));

      const runnable = new Set(imported.specs.map((s) => s.id));
      const itemPaths = new Map<string, string>();
      const prefix = (before as { master?: unknown }).master ? '/master/tasks' : '/tasks';
      tasksOf(before).forEach((task, i) => {
        itemPaths.set(`${prefix}/${i}`, String(task.id));
        task.subtasks?.forEach((sub, j) =>
          itemPaths.set(`${prefix}/${i}/subtasks/${j}`, `${task.id}.${sub.id}`),
        );
      });
      const changed = (at: string) => {
        const field = at.slice(at.lastIndexOf('/') + 1);
        const id = itemPaths.get(at.slice(0, at.lastIndexOf('/')));
        return id !== undefined && runnable.has(id) && ['status', 'details', 'updatedAt'].includes(field);
      };
      expectKept(before, after, '', changed);

      for (const id of runnable) {
        const item = findItem(after, id);
        expect(item.status, id).toBe('done');
        expect(item.details, id).toMatch(
          new RegExp(
            `<info added on 2026-05-01T12:00:00.000Z>\\nsummary of ${id.replace('.', '\\.')}\\n</info added on 2026-05-01T12:00:00.000Z>$`,
          ),
        );
        // Ids keep their type: "24" stays a string, 3 stays a number.
        expect(typeof item.id).toBe(typeof findItem(before, id).id);
      }
      expect(await filesNextTo(file)).toEqual(['tasks.json']);
    },
  );
});

describe('TaskMasterWriteBack', () => {
  const project = () =>
    tempProject({
      json: {
        master: {
          tasks: [
            {
              id: 1,
              title: 'One',
              status: 'pending',
              details: 'Original details.',
              dependencies: [],
              custom: { keep: [1, 2] },
              subtasks: [
                {
                  id: 1,
                  title: 'Sub',
                  status: 'pending',
                  dependencies: [],
                  updatedAt: '2020-01-01T00:00:00.000Z',
                },
              ],
            },
            { id: 2, title: 'Two', status: 'pending', dependencies: [1] },
          ],
          metadata: { created: 'then' },
        },
        other: { tasks: [{ id: 1, title: 'Other tag', status: 'pending' }], metadata: {} },
      },
    });

  it('marks started, done with the summary, and failed back to pending with the reason', async () => {
    const { file } = await project();
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master', clock: fixedClock });
    const at = '2026-05-01T12:00:00.000Z';

    await writeBack.markStarted('1');
    let data = JSON.parse(await readFile(file, 'utf8')) as Json;
    expect(findItem(data, '1').status).toBe('in-progress');

    await writeBack.markDone('1', '  Built it.\nAll tests pass.  ');
    await writeBack.markFailed('1.1', 'the worker ran out of attempts');
    data = JSON.parse(await readFile(file, 'utf8')) as Json;
    expect(findItem(data, '1')).toMatchObject({
      status: 'done',
      details: `Original details.\n<info added on ${at}>\nBuilt it.\nAll tests pass.\n</info added on ${at}>`,
      custom: { keep: [1, 2] },
    });
    expect(findItem(data, '1.1')).toMatchObject({
      status: 'pending',
      details: `<info added on ${at}>\nclaude-orchestrator could not finish this task: the worker ran out of attempts\n</info added on ${at}>`,
      updatedAt: at,
    });
    // No stamp is added where the file had none; the other tag is untouched.
    expect(findItem(data, '1')).not.toHaveProperty('updatedAt');
    expect((data as { other: { tasks: Item[] } }).other.tasks[0]!.status).toBe('pending');
  });

  it('reconcile finishes only what is still in progress, in one write, passing over missing tasks', async () => {
    const { file } = await project();
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master', clock: fixedClock });
    const at = '2026-05-01T12:00:00.000Z';
    await writeBack.markStarted('1');
    await writeBack.markStarted('1.1');
    const before = JSON.parse(await readFile(file, 'utf8')) as Json;

    const changed = await writeBack.reconcile([
      { id: '1', status: 'done', note: 'Built it.' },
      { id: '1.1', status: 'failed', note: 'out of attempts' },
      // Pending here (a person reopened it, or it never started): left as it is.
      { id: '2', status: 'done', note: 'not written' },
      { id: '99', status: 'done', note: 'gone from the file' },
    ]);
    expect(changed).toEqual(['1', '1.1']);
    const data = JSON.parse(await readFile(file, 'utf8')) as Json;
    expect(findItem(data, '1')).toMatchObject({
      status: 'done',
      details: `Original details.\n<info added on ${at}>\nBuilt it.\n</info added on ${at}>`,
    });
    expect(findItem(data, '1.1').status).toBe('pending');
    expect(findItem(data, '1.1').details).toContain(
      'claude-orchestrator could not finish this task: out of attempts',
    );
    expect(findItem(data, '2')).toEqual(findItem(before, '2'));
    // Run again (another restart), it finds nothing left to do and writes nothing.
    expect(await writeBack.reconcile([{ id: '1', status: 'done', note: 'Built it.' }])).toEqual([]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(data);
  });

  it('applies calls in the order they were made', async () => {
    const { file } = await project();
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master' });
    const calls = [
      writeBack.markStarted('2'),
      writeBack.markFailed('2', 'first try'),
      writeBack.markStarted('2'),
      writeBack.markDone('2', 'ok'),
    ];
    await Promise.all(calls);
    const item = findItem(JSON.parse(await readFile(file, 'utf8')) as Json, '2');
    expect(item.status).toBe('done');
    expect(item.details).toMatch(/first try[^]*\nok\n/);
  });

  it('adds follow-up work as task max + 1 with the id type of the file', async () => {
    const numbers = await project();
    const writeBack = new TaskMasterWriteBack({ file: numbers.file, tag: 'master' });
    const id = await writeBack.addTask({
      id: 'followup-1',
      title: 'Follow up',
      description: 'More',
      dependencies: ['2', '1.1'],
      priority: 'high',
    });
    expect(id).toBe('3');
    const added = findItem(JSON.parse(await readFile(numbers.file, 'utf8')) as Json, '3');
    expect(added).toEqual({
      id: 3,
      title: 'Follow up',
      description: 'More',
      details: '',
      testStrategy: '',
      priority: 'high',
      dependencies: [2, '1.1'],
      status: 'pending',
      subtasks: [],
    });
    expect((await loadTaskMasterProject(numbers.file, { env: {} })).specs.map((s) => s.id)).toContain('3');

    const strings = await tempProject({ fixture: '0xdolan__tajdin__tasks.json' });
    const stringWriteBack = new TaskMasterWriteBack({ file: strings.file, tag: 'master' });
    expect(await stringWriteBack.addTask({ id: 'x', title: 'After 24', dependencies: ['24'] })).toBe('25');
    expect(findItem(JSON.parse(await readFile(strings.file, 'utf8')) as Json, '25')).toMatchObject({
      id: '25',
      dependencies: ['24'],
    });
  });

  it('keeps a legacy file legacy', async () => {
    const { file } = await tempProject({ fixture: 'Chious__map-app__tasks.json' }, 'legacy');
    await new TaskMasterWriteBack({ file, tag: 'master' }).markDone('2', 'done');
    const data = JSON.parse(await readFile(file, 'utf8')) as { tasks: Item[]; metadata: object };
    expect(Object.keys(data)).toEqual(['tasks', 'metadata']);
    expect(data.tasks[1]!.status).toBe('done');
  });

  it('keeps the file mode', async () => {
    const { file } = await project();
    await chmod(file, 0o640);
    await new TaskMasterWriteBack({ file, tag: 'master' }).markStarted('1');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it('claims a task only at a status it accepts, and guarded writes only over the status expected', async () => {
    const { file } = await project();
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master', clock: fixedClock });
    const pendingOnly = (found: string) => found === 'pending';

    // What the task was before the claim comes back, to know a stale Task Master write that undid it.
    expect(await writeBack.claim('1', pendingOnly)).toEqual({
      ok: true,
      found: 'pending',
      unclaimed: { status: 'pending' },
    });
    expect(findItem(JSON.parse(await readFile(file, 'utf8')) as Json, '1').status).toBe('in-progress');
    // Read-only (a simulated run): the answer, and not a byte written.
    const before = await readFile(file);
    expect(await writeBack.claim('2', pendingOnly, false)).toEqual({ ok: true, found: 'pending' });
    expect(await readFile(file)).toEqual(before);

    // A person set 1 to review meanwhile, and removed 2: nothing is written over either.
    const data = JSON.parse(await readFile(file, 'utf8')) as { master: { tasks: Item[] } };
    data.master.tasks[0]!.status = 'review';
    data.master.tasks.splice(1, 1);
    await writeFile(file, JSON.stringify(data, null, 2));
    const edited = await readFile(file);
    expect(await writeBack.markDone('1', 'finished', 'in-progress')).toEqual({ ok: false, found: 'review' });
    expect(await writeBack.markFailed('2', 'gave up', 'in-progress')).toEqual({
      ok: false,
      found: 'removed',
    });
    expect(await writeBack.claim('2', () => true)).toEqual({ ok: false, found: 'removed' });
    expect(await readFile(file)).toEqual(edited);

    // The status expected is there: written.
    expect(await writeBack.markDone('1.1', 'sub finished', 'pending')).toEqual({
      ok: true,
      found: 'pending',
    });
    expect(findItem(JSON.parse(await readFile(file, 'utf8')) as Json, '1.1').status).toBe('done');
  });

  it('writes the calls made together in one locked write', async () => {
    const { file } = await project();
    let tick = 0;
    // Each batch stamps its changes once: a new time per batch tells the batches apart.
    const counting: Clock = {
      now: () => Date.parse('2026-05-01T12:00:00.000Z') + 1000 * tick++,
      sleep: (ms, signal) => systemClock.sleep(ms, signal),
    };
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master', clock: counting });
    await Promise.all([
      writeBack.markDone('1', 'a'),
      writeBack.markDone('1.1', 'b'),
      writeBack.markDone('2', 'c'),
    ]);
    await writeBack.markDone('2', 'later');
    const data = JSON.parse(await readFile(file, 'utf8')) as Json;
    const stamps = ['1', '1.1', '2'].map(
      (id) => /<info added on ([^>]+)>/.exec(findItem(data, id).details!)![1],
    );
    expect(new Set(stamps).size).toBe(1);
    const last = /<info added on ([^>]+)>\nlater\n/.exec(findItem(data, '2').details!)![1];
    expect(last).not.toBe(stamps[0]);
  });

  const refusals: {
    name: string;
    run: (w: TaskMasterWriteBack, file: string) => Promise<unknown>;
    code: string;
    message: RegExp;
  }[] = [
    {
      name: 'an unknown task',
      run: (w) => w.markDone('9', 'x'),
      code: 'TASK_NOT_FOUND',
      message: /there is no task 9; nothing was written/,
    },
    {
      name: 'an unknown subtask',
      run: (w) => w.markStarted('1.5'),
      code: 'TASK_NOT_FOUND',
      message: /task 1 has no subtask 5/,
    },
    {
      name: 'a follow-up on a missing task',
      run: (w) => w.addTask({ id: 'f', title: 'F', dependencies: ['7'] }),
      code: 'TASK_NOT_FOUND',
      message: /follow-up task "F" depends on 7: there is no task 7/,
    },
    {
      name: 'a file broken since the import',
      run: async (w, file) => {
        await writeFile(file, '{ "master": ');
        return w.markDone('1', 'x');
      },
      code: 'TASK_FILE_INVALID',
      message: /is not valid JSON/,
    },
    {
      name: 'a tag removed since the import',
      run: async (w, file) => {
        await writeFile(file, JSON.stringify({ other: { tasks: [] } }, null, 2));
        return w.markDone('1', 'x');
      },
      code: 'TASK_FILE_INVALID',
      message: /tag "master": the tag is no longer in the file/,
    },
  ];

  it.each(refusals)('refuses $name and leaves the file byte for byte', async ({ run, code, message }) => {
    const { file } = await project();
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master' });
    const error = await run(writeBack, file).then(
      () => undefined,
      (e: unknown) => e,
    );
    const before = await readFile(file); // after any edit the case made itself
    expect(isOrcError(error) && error.code).toBe(code);
    expect((error as Error).message).toMatch(message);
    expect(await readFile(file)).toEqual(before);
    expect(await filesNextTo(file)).toEqual(['tasks.json']);
    // The queue goes on after a refusal.
    if (code === 'TASK_NOT_FOUND') await expect(writeBack.markStarted('2')).resolves.toBeUndefined();
  });
});

/**
 * A stand-in for Task Master in another process: takes `<file>.lock` as Task Master does (a directory, or
 * an O_EXCL file), reads the file, waits, sets one task's status, writes through a temp file and rename,
 * releases. Reading before the wait makes any writer that ignores the lock lose an update.
 */
const TASK_MASTER_STAND_IN = `
import fs from 'node:fs';
const [file, kind, editsJson, holdMs] = process.argv.slice(2);
const lock = file + '.lock';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function acquire() {
  for (let i = 0; i < 4000; i++) {
    try {
      if (kind === 'directory') fs.mkdirSync(lock);
      else fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, timestamp: Date.now() }), { flag: 'wx' });
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      await sleep(2);
    }
  }
  throw new Error('stand-in could not take the lock');
}
for (const edit of JSON.parse(editsJson)) {
  await acquire();
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  process.stdout.write('locked ' + edit.id + '\\n');
  await sleep(Number(holdMs));
  const [taskId, subId] = edit.id.split('.');
  const task = (data.master ? data.master.tasks : data.tasks).find((t) => String(t.id) === taskId);
  const item = subId === undefined ? task : task.subtasks.find((s) => String(s.id) === subId);
  item.status = edit.status;
  const temp = file + '.tmp.' + process.pid;
  fs.writeFileSync(temp, JSON.stringify(data, null, 2), 'utf8');
  fs.renameSync(temp, file);
  fs.rmSync(lock, { recursive: true, force: true });
  await sleep(1);
}
`;

async function startStandIn(
  dir: string,
  file: string,
  kind: string,
  edits: { id: string; status: string }[],
  holdMs: number,
) {
  const script = path.join(dir, 'task-master-stand-in.mjs');
  await writeFile(script, TASK_MASTER_STAND_IN);
  const child = spawn(process.execPath, [script, file, kind, JSON.stringify(edits), String(holdMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const firstLock = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`stand-in exited with ${String(code)}: ${stderr}`);
  });
  return { child, firstLock, exited };
}

describe('sharing the file with Task Master', () => {
  const running: { child: ReturnType<typeof spawn> }[] = [];
  afterEach(() => {
    for (const { child } of running.splice(0)) if (child.exitCode === null) child.kill();
  });

  it.each(['directory', 'O_EXCL file'])(
    'waits for its %s lock, re-reads, and both changes survive',
    async (kind) => {
      const { dir, file } = await tempProject({ fixture: 'Chious__map-app__tasks.json' });
      const standIn = await startStandIn(dir, file, kind, [{ id: '1', status: 'review' }], 300);
      running.push(standIn);
      await standIn.firstLock; // Task Master holds the lock and has read the file

      await new TaskMasterWriteBack({ file, tag: 'master' }).markDone('2', 'our change');
      await standIn.exited;

      const data = JSON.parse(await readFile(file, 'utf8')) as Json;
      expect(findItem(data, '1').status).toBe('review');
      expect(findItem(data, '2').status).toBe('done');
      expect(await filesNextTo(file)).toEqual(['tasks.json']);
    },
  );

  it('interleaves many writes with a busy Task Master without losing any', async () => {
    const { dir, file } = await tempProject({ fixture: 'AlexKucera__obsidian-typst-pdf-export__tasks.json' });
    const imported = await loadTaskMasterProject(dir, { env: {} });
    // Task Master edits the finished tasks 1 and 2 and their subtasks while we write tasks 3..10.
    const theirs = imported.skipped.map((id) => ({ id, status: 'review' }));
    const standIn = await startStandIn(dir, file, 'directory', theirs, 3);
    running.push(standIn);
    const writeBack = new TaskMasterWriteBack({ file, tag: 'master' });
    await standIn.firstLock;
    await Promise.all(
      imported.specs.flatMap((s) => [writeBack.markStarted(s.id), writeBack.markDone(s.id, `done ${s.id}`)]),
    );
    await standIn.exited;

    const data = JSON.parse(await readFile(file, 'utf8')) as Json;
    for (const { id } of theirs) expect(findItem(data, id).status, id).toBe('review');
    for (const { id } of imported.specs) expect(findItem(data, id).status, id).toBe('done');
  });
});
