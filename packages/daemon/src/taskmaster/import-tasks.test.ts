import { mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isOrcError } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTaskMasterProject } from './import-tasks.js';
import { fixturePath, removeTempProjects, tempProject, TASKMASTER_FIXTURES } from '@orc/test-support';
import type { TaskMasterFixture } from '@orc/test-support';

afterEach(removeTempProjects);

interface RawItem {
  id: number | string;
  status?: string;
  dependencies?: (number | string)[];
  subtasks?: RawItem[];
}

/**
 * The expected import of a tag, worked out straight from the raw JSON for files whose tasks are all
 * pending, in-progress or done (as the fixtures are): a spec per task or subtask whose own status (and
 * whose parent's) is not done/cancelled; a spec's dependencies are its own, a parent's subtasks and a
 * subtask's parent's dependencies, counted once each and only when that task is itself run.
 */
function expectedCounts(tasks: RawItem[]): { specs: number; dependencies: number } {
  const finished = (status: string | undefined) => status === 'done' || status === 'cancelled';
  const runs = new Set<string>();
  for (const task of tasks) {
    if (finished(task.status)) continue;
    runs.add(String(Number(task.id)));
    for (const sub of task.subtasks ?? []) {
      if (!finished(sub.status)) runs.add(`${Number(task.id)}.${Number(sub.id)}`);
    }
  }
  let dependencies = 0;
  for (const task of tasks) {
    const taskId = String(Number(task.id));
    if (!runs.has(taskId)) continue;
    const taskDeps = (task.dependencies ?? []).map((d) => String(d));
    const own = new Set([...taskDeps, ...(task.subtasks ?? []).map((s) => `${taskId}.${Number(s.id)}`)]);
    dependencies += [...own].filter((d) => runs.has(d)).length;
    for (const sub of task.subtasks ?? []) {
      if (!runs.has(`${taskId}.${Number(sub.id)}`)) continue;
      const subDeps = (sub.dependencies ?? []).map((d) => (typeof d === 'number' ? `${taskId}.${d}` : d));
      dependencies += [...new Set([...subDeps, ...taskDeps])].filter((d) => runs.has(d)).length;
    }
  }
  return { specs: runs.size, dependencies };
}

/** Counted by hand from the files (see the comments); a second check on the function above. */
const HAND_COUNTED: Record<TaskMasterFixture, { specs: number; dependencies: number; skipped: number }> = {
  // Task 24 (in-progress) and its subtasks 3..13; 24 waits for those 11; the other 23 tasks and 54 subtasks are done.
  '0xdolan__tajdin__tasks.json': { specs: 12, dependencies: 11, skipped: 23 + 54 },
  // Tasks 3..10 with 40 subtasks. Parents: 46 edges (subtasks 40 + 3->[], 5->3,4, 7->6, 9->7, 10->8,9).
  // Subtasks: 33 own edges + 37 inherited from their parent's dependencies (5.x 2 each, 7.x, 9.x 1 each, 10.x 2 each).
  'AlexKucera__obsidian-typst-pdf-export__tasks.json': { specs: 48, dependencies: 116, skipped: 12 },
  // Tasks 2..15; the edges to task 1 (done) are dropped: 4:2 6:1 8:2 9:2 10:2 11:2 12:2 13:3 15:1.
  'Chious__map-app__tasks.json': { specs: 14, dependencies: 17, skipped: 1 },
};

describe('importing the real fixtures', () => {
  it.each(TASKMASTER_FIXTURES)('%s imports with the right task and dependency counts', async (name) => {
    const raw = JSON.parse(await readFile(fixturePath(name), 'utf8')) as {
      master?: { tasks: RawItem[] };
      tasks?: RawItem[];
    };
    const tasks = raw.master?.tasks ?? raw.tasks!;
    const result = await loadTaskMasterProject(fixturePath(name), { env: {} });

    const counts = {
      specs: result.specs.length,
      dependencies: result.specs.reduce((n, s) => n + s.dependencies.length, 0),
    };
    expect(counts).toEqual(expectedCounts(tasks));
    const hand = HAND_COUNTED[name];
    expect(counts).toEqual({ specs: hand.specs, dependencies: hand.dependencies });
    expect(result.skipped).toHaveLength(hand.skipped);
    expect(result.notRunnable).toEqual([]);
    expect(result.tag).toBe('master');
    expect(result.layout).toBe(raw.master ? 'tagged' : 'legacy');

    // Every dependency names another spec, and ids are unique.
    const ids = new Set(result.specs.map((s) => s.id));
    expect(ids.size).toBe(result.specs.length);
    for (const spec of result.specs) for (const dep of spec.dependencies) expect(ids).toContain(dep);
  });

  it('turns a task and its subtasks into specs with what a worker needs', async () => {
    const result = await loadTaskMasterProject(
      fixturePath('AlexKucera__obsidian-typst-pdf-export__tasks.json'),
      { env: {} },
    );
    const parent = result.specs.find((s) => s.id === '5')!;
    expect(parent.dependencies).toEqual(['3', '4', '5.1', '5.2', '5.3', '5.4', '5.5']);
    const sub = result.specs.find((s) => s.id === '5.2')!;
    // Its sibling "5.1" from the file, then the parent's dependencies.
    expect(sub.dependencies).toEqual(['5.1', '3', '4']);
    expect(sub.priority).toBe(parent.priority);
    expect(sub.details).toMatch(/^Part of Task Master task 5: /);
    expect(sub.details).toMatch(/\n\nTest strategy: /);
  });

  it('reads string ids and bare sibling dependencies (0xdolan)', async () => {
    const result = await loadTaskMasterProject(fixturePath('0xdolan__tajdin__tasks.json'), { env: {} });
    expect(result.specs.map((s) => s.id)).toEqual([
      '24',
      ...Array.from({ length: 11 }, (_, i) => `24.${i + 3}`),
    ]);
  });
});

const task = (
  id: number | string,
  status: string,
  dependencies: (number | string)[] = [],
  extra: object = {},
) => ({
  id,
  title: `Task ${id}`,
  description: `does ${id}`,
  status,
  dependencies,
  priority: 'medium',
  ...extra,
});

describe('statuses', () => {
  it('skips done and cancelled, holds back deferred, blocked, review and whatever waits on them', async () => {
    const { dir } = await tempProject({
      json: {
        master: {
          tasks: [
            task(1, 'done'),
            task(2, 'cancelled'),
            task(3, 'deferred'),
            task(4, 'blocked'),
            task(5, 'pending', [1, 2]),
            task(6, 'pending', [3]),
            task(7, 'review', [6]),
            task(8, 'in-progress', [5], {
              subtasks: [
                { id: 1, title: 'a', status: 'pending', dependencies: [] },
                { id: 2, title: 'b', status: 'deferred', dependencies: [] },
                { id: 3, title: 'c', status: 'pending', dependencies: [1] },
                { id: 4, title: 'd', status: 'done', dependencies: [] },
              ],
            }),
            task(9, 'deferred', [], {
              subtasks: [{ id: 1, title: 'a', status: 'pending', dependencies: [] }],
            }),
            task(10, 'pending', ['8.1']),
          ],
          metadata: {},
        },
      },
    });
    const result = await loadTaskMasterProject(dir, { env: {} });
    expect(result.specs.map((s) => [s.id, s.dependencies])).toEqual([
      ['5', []],
      ['8.1', ['5']],
      ['8.3', ['8.1', '5']],
      ['10', ['8.1']],
    ]);
    expect(result.skipped).toEqual(['1', '2', '8.4']);
    expect(result.notRunnable.map(({ title: _title, ...rest }) => rest)).toEqual([
      { id: '3', status: 'deferred', reason: 'deferred in Task Master' },
      { id: '4', status: 'blocked', reason: 'blocked in Task Master' },
      { id: '6', status: 'blocked', reason: 'waits for 3, which is deferred', waitsFor: '3' },
      // Review waits for a person to look at work already done: it is not run again.
      { id: '7', status: 'review', reason: 'review in Task Master: waits for a person to look at it' },
      { id: '8', status: 'blocked', reason: 'waits for 8.2, which is deferred', waitsFor: '8.2' },
      { id: '8.2', status: 'deferred', reason: 'deferred in Task Master' },
      { id: '9', status: 'deferred', reason: 'deferred in Task Master' },
      { id: '9.1', status: 'deferred', reason: 'its task 9 is deferred' },
    ]);
  });

  it('with only, takes the named tasks and what they need, and names an unknown id', async () => {
    const { dir } = await tempProject({
      json: {
        master: {
          tasks: [
            task(1, 'done'),
            task(2, 'pending', [1]),
            task(3, 'pending', [2]),
            task(4, 'deferred'),
            task(5, 'pending', [3], {
              subtasks: [
                { id: 1, title: 'a', status: 'pending', dependencies: [] },
                { id: 2, title: 'b', status: 'pending', dependencies: [1] },
                { id: 3, title: 'c', status: 'pending', dependencies: [] },
              ],
            }),
            task(6, 'pending', [4]),
            task(7, 'pending'),
          ],
          metadata: {},
        },
      },
    });
    // 5.2 needs its sibling 5.1 and, as a subtask, its parent's dependency 3 (which needs 2, then 1).
    const subtask = await loadTaskMasterProject(dir, { env: {}, only: ['5.2', ' 6 '] });
    expect(subtask.specs.map((s) => s.id)).toEqual(['2', '3', '5.1', '5.2']);
    expect(subtask.skipped).toEqual(['1']);
    expect(subtask.notRunnable.map((t) => [t.id, t.reason])).toEqual([
      ['4', 'deferred in Task Master'],
      ['6', 'waits for 4, which is deferred'],
    ]);
    expect(subtask.excluded).toEqual(['5', '5.3', '7']);
    expect(subtask.statuses).toEqual({
      '1': 'done',
      '2': 'pending',
      '3': 'pending',
      '4': 'deferred',
      '5.1': 'pending',
      '5.2': 'pending',
      '6': 'pending',
    });
    // A parent waits for its subtasks, so naming it runs them too.
    const parent = await loadTaskMasterProject(dir, { env: {}, only: ['5'] });
    expect(parent.specs.map((s) => s.id)).toEqual(['2', '3', '5', '5.1', '5.2', '5.3']);

    for (const only of [['9'], ['5.7'], ['x']]) {
      await expect(loadTaskMasterProject(dir, { env: {}, only })).rejects.toMatchObject({
        code: 'TASK_FILE_INVALID',
        message: expect.stringMatching(
          new RegExp(
            `^--only names ${only[0]}, which is not a task or subtask in Task Master file .*, tag "master"; task-master list --with-subtasks shows the ids$`,
          ),
        ) as unknown,
      });
    }
  });

  it('skips every subtask of a finished task, whatever its own status', async () => {
    const { dir } = await tempProject({
      json: {
        tasks: [
          task(1, 'done', [], { subtasks: [{ id: 1, title: 'left over', status: 'pending' }] }),
          task(2, 'pending', ['1.1']),
        ],
      },
    });
    const result = await loadTaskMasterProject(dir, { env: {} });
    expect(result.specs.map((s) => [s.id, s.dependencies])).toEqual([['2', []]]);
    expect(result.skipped).toEqual(['1', '1.1']);
  });

  it('defaults a missing status to pending and a missing priority to medium', async () => {
    const { dir } = await tempProject({ json: { tasks: [{ id: 1, title: 'bare' }] } });
    const [spec] = (await loadTaskMasterProject(dir, { env: {} })).specs;
    expect(spec).toMatchObject({
      id: '1',
      title: 'bare',
      description: '',
      priority: 'medium',
      dependencies: [],
    });
  });
});

describe('touches in metadata', () => {
  it("reads a task's metadata.touches (Task Master's place for other tools' data), normalised", async () => {
    const { dir } = await tempProject({
      json: {
        tasks: [
          { id: 1, title: 'ui', metadata: { touches: ['./src/ui/', 'src/ui/**'], sprint: 'Q1' } },
          { id: 2, title: 'plain', metadata: { sprint: 'Q1' } },
          { id: 3, title: 'sub', subtasks: [{ id: 1, title: 'part', metadata: { touches: ['lib/a.ts'] } }] },
        ],
      },
    });
    const specs = (await loadTaskMasterProject(dir, { env: {} })).specs;
    const byId = new Map(specs.map((spec) => [spec.id, spec]));
    expect(byId.get('1')!.touches).toEqual(['src/ui', 'src/ui/**']);
    expect(byId.get('2')!.touches).toBeUndefined();
    expect(byId.get('3.1')!.touches).toEqual(['lib/a.ts']);
  });

  it('names a bad touched path and the fix', async () => {
    const { dir } = await tempProject({
      json: { tasks: [{ id: 4, title: 'bad', metadata: { touches: ['../outside'] } }] },
    });
    await expect(loadTaskMasterProject(dir, { env: {} })).rejects.toThrow(
      /task 4: metadata\.touches "\.\.\/outside": touched paths may not contain "\.\."; fix it in the file/,
    );
    const { dir: other } = await tempProject({
      json: { tasks: [{ id: 5, title: 'bad', metadata: { touches: 'src' } }] },
    });
    await expect(loadTaskMasterProject(other, { env: {} })).rejects.toThrow(
      /metadata\.touches must be a list of paths or globs/,
    );
  });
});

describe('tags and layouts', () => {
  const tagged = {
    master: { tasks: [task(1, 'pending')], metadata: { created: 'x' } },
    feature: { tasks: [task(1, 'pending'), task(2, 'pending', [1])], metadata: {} },
  };

  it('imports the tag from --tag, TASKMASTER_TAG or state.json', async () => {
    const { dir } = await tempProject({ json: tagged });
    expect((await loadTaskMasterProject(dir, { env: {} })).specs).toHaveLength(1);
    const viaEnv = await loadTaskMasterProject(dir, { env: { TASKMASTER_TAG: 'feature' } });
    expect(viaEnv).toMatchObject({ tag: 'feature', layout: 'tagged' });
    expect(viaEnv.specs).toHaveLength(2);
    await writeFile(path.join(dir, '.taskmaster', 'state.json'), JSON.stringify({ currentTag: 'feature' }));
    expect((await loadTaskMasterProject(dir, { env: {} })).tag).toBe('feature');
    expect((await loadTaskMasterProject(dir, { tag: 'master', env: {} })).tag).toBe('master');
  });

  it('reads the legacy layout at the legacy path', async () => {
    const { dir, file } = await tempProject(
      { json: { tasks: [task(1, 'pending')], metadata: {} } },
      'legacy',
    );
    expect(await loadTaskMasterProject(dir, { env: {} })).toMatchObject({
      file,
      tag: 'master',
      layout: 'legacy',
    });
  });
});

describe('files Task Master would reject', () => {
  const cases: {
    name: string;
    content: { json: unknown } | { text: string };
    tag?: string;
    message: RegExp;
  }[] = [
    {
      name: 'invalid JSON',
      content: { text: '{ "master": { "tasks": [ ' },
      message: /tasks\.json is not valid JSON/,
    },
    {
      name: 'not a tasks file',
      content: { json: { hello: 'world' } },
      message: /is not a Task Master tasks file/,
    },
    {
      name: 'an unknown tag',
      content: { json: { master: { tasks: [] }, other: { tasks: [] } } },
      tag: 'nope',
      message: /has no tag "nope" \(from --tag\); its tags are master, other/,
    },
    {
      name: 'a dependency on a missing id',
      content: { json: { tasks: [task(1, 'pending'), task(2, 'pending', [1, 9])] } },
      message: /tag "master": task 2 depends on 9, which does not exist/,
    },
    {
      name: 'a subtask dependency on a missing sibling',
      content: {
        json: { tasks: [task(1, 'pending', [], { subtasks: [{ id: 1, title: 's', dependencies: [4] }] })] },
      },
      message: /task 1\.1 depends on 1\.4, which does not exist/,
    },
    {
      name: 'a dependency that is not an id',
      content: { json: { tasks: [task(1, 'pending', ['soon'])] } },
      message: /task 1 depends on "soon", which is not a task id/,
    },
    {
      name: 'a cycle',
      content: {
        json: { tasks: [task(1, 'pending', [3]), task(2, 'pending', [1]), task(3, 'pending', [2])] },
      },
      message: /dependency cycle 1 -> 3 -> 2 -> 1/,
    },
    {
      name: 'a cycle through a subtask and its parent',
      content: {
        json: {
          tasks: [
            task(1, 'pending', [2], { subtasks: [{ id: 1, title: 's', dependencies: [] }] }),
            task(2, 'pending', ['1.1']),
          ],
        },
      },
      message: /dependency cycle 2 -> 1\.1 -> 2; .*subtasks wait for their parent's dependencies/,
    },
    {
      name: 'a subtask that depends on itself',
      content: {
        json: { tasks: [task(1, 'pending', [], { subtasks: [{ id: 1, title: 's', dependencies: [1] }] })] },
      },
      message: /task 1\.1 depends on itself/,
    },
    {
      name: 'an empty title',
      content: { json: { tasks: [task(1, 'pending'), { ...task(2, 'pending'), title: '  ' }] } },
      message: /task 2: title must not be empty/,
    },
    {
      name: 'an unknown status',
      content: { json: { tasks: [task(1, 'pending'), task(2, 'doing')] } },
      message: /task 2: status must be one of pending, in-progress, .* \(got "doing"\)/,
    },
    {
      name: 'an unknown subtask status',
      content: {
        json: { tasks: [task(4, 'pending', [], { subtasks: [{ id: 7, title: 's', status: 'finished' }] })] },
      },
      message: /subtask 4\.7: status must be one of .* \(got "finished"\)/,
    },
    {
      name: 'a non-numeric id',
      content: { json: { tasks: [task('abc', 'pending')] } },
      message: /task abc: id must be a positive integer/,
    },
    {
      name: 'a title over the limit',
      content: { json: { tasks: [task(1, 'pending'), { ...task(2, 'pending'), title: 't'.repeat(501) }] } },
      message: /task 2: title: 501 characters, over the limit of 500; shorten it in the file$/,
    },
    {
      // The field by its name, not its place in the list ("dependencies.0"), and the value it holds.
      name: 'a dependency that is no task id',
      content: { json: { tasks: [task(1, 'pending'), task(2, 'pending', [{ id: 1 }, -1] as never)] } },
      message:
        /: task 2: dependencies must be a list of task ids \(whole numbers or strings\) \(got \{"id":1\}\); fix it in the file$/,
    },
    {
      name: 'a negative dependency',
      content: { json: { tasks: [task(1, 'pending'), task(2, 'pending', [-1] as never)] } },
      message: /: task 2: dependencies must be a list of task ids \(whole numbers or strings\) \(got -1\)/,
    },
    {
      name: 'a touched path that is no text',
      content: { json: { tasks: [task(1, 'pending', [], { metadata: { touches: ['src', 3] } })] } },
      message: /: task 1: metadata\.touches must be a list of paths or globs \(got 3\); fix it in the file$/,
    },
    {
      name: 'a duplicate id',
      content: { json: { tasks: [task(1, 'pending'), task('1', 'pending')] } },
      message: /task 1 appears twice/,
    },
  ];

  it.each(cases)(
    '$name: one clear TASK_FILE_INVALID line and the file untouched',
    async ({ content, tag, message }) => {
      const { dir, file } = await tempProject(content);
      const before = await readFile(file);
      const error = await loadTaskMasterProject(dir, { tag, env: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOrcError(error) && error.code).toBe('TASK_FILE_INVALID');
      const text = (error as Error).message;
      expect(text).toMatch(message);
      expect(text).toContain(file);
      expect(text).not.toContain('\n');
      expect(await readFile(file)).toEqual(before);
      expect(await readdir(path.dirname(file))).toEqual(['tasks.json']);
    },
  );

  it('refuses more tasks to run than one run takes', async () => {
    const tasks = Array.from({ length: 100_001 }, (_, i) => ({ id: i + 1, title: 't', status: 'pending' }));
    const { dir, file } = await tempProject({ text: JSON.stringify({ tasks }) });
    await expect(loadTaskMasterProject(dir, { env: {} })).rejects.toMatchObject({
      code: 'TASK_FILE_INVALID',
      message: `Task Master file ${file}, tag "master": 100,001 tasks to run, over the limit of 100,000 in one run; split them into tags and run one at a time`,
    });
  });

  it('refuses a file over the size limit before reading it', async () => {
    const { dir, file } = await tempProject({ json: { tasks: [task(1, 'pending')] } });
    await truncate(file, 33 * 1024 * 1024); // sparse: the size is all that is looked at
    await expect(loadTaskMasterProject(dir, { env: {} })).rejects.toMatchObject({
      code: 'TASK_FILE_INVALID',
      message: `Task Master file ${file} is 33 MiB, over the limit of 32 MiB for a tasks file; split it into tags and run one at a time`,
    });
  });

  it('names a missing file and a dir without one', async () => {
    const { dir } = await tempProject({ json: { tasks: [] } });
    await expect(loadTaskMasterProject(path.join(dir, 'gone.json'), { env: {} })).rejects.toMatchObject({
      code: 'TASK_FILE_INVALID',
      message: expect.stringMatching(/gone\.json does not exist/) as unknown,
    });
    await mkdir(path.join(dir, 'empty'));
    await expect(loadTaskMasterProject(path.join(dir, 'empty'), { env: {} })).rejects.toMatchObject({
      code: 'TASK_FILE_INVALID',
      message: expect.stringMatching(/no Task Master tasks file in/) as unknown,
    });
  });
});
