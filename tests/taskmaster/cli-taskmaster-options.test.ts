import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunPreview, RunSummary, RunView } from '@orc/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Sandbox, waitFor } from '../daemon/harness.js';
import { TaskMasterCli } from '../support/task-master-cli.js';

/** A project as Task Master keeps it: a done task, subtasks, a dotted dependency, review, another tag. */
const PROJECT = {
  master: {
    tasks: [
      { id: 1, title: 'Schema', status: 'done', dependencies: [], priority: 'high' },
      {
        id: 2,
        title: 'API',
        status: 'pending',
        dependencies: [1],
        subtasks: [
          { id: 1, title: 'Routes', status: 'pending', dependencies: [] },
          { id: 2, title: 'Handlers', status: 'pending', dependencies: [1] },
        ],
      },
      { id: 3, title: 'Docs', status: 'pending', dependencies: ['2.2'] },
      { id: 4, title: 'Review me', status: 'review', dependencies: [] },
      { id: 5, title: 'After review', status: 'pending', dependencies: [4] },
      { id: 6, title: 'Changelog', status: 'pending', dependencies: [] },
    ],
    metadata: {},
  },
  feature: { tasks: [{ id: 1, title: 'Flag', status: 'pending', dependencies: [] }], metadata: {} },
};

const SIMULATED = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 5 } } };

let box: Sandbox | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await box?.cleanup();
  box = undefined;
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function project(data: unknown = PROJECT, config: unknown = SIMULATED) {
  const dir = await mkdtemp(join(tmpdir(), 'orc-tm-cli-'));
  dirs.push(dir);
  const file = join(dir, '.taskmaster', 'tasks', 'tasks.json');
  await mkdir(join(dir, '.taskmaster', 'tasks'), { recursive: true });
  await writeFile(file, JSON.stringify(data, null, 2));
  await writeFile(join(dir, 'orc.config.json'), JSON.stringify(config));
  return { dir, file };
}

function statuses(text: string, tag = 'master'): Record<string, string> {
  const data = JSON.parse(text) as Record<
    string,
    { tasks: { id: number; status: string; subtasks?: { id: number; status: string }[] }[] }
  >;
  const out: Record<string, string> = {};
  for (const task of data[tag]!.tasks) {
    out[String(task.id)] = task.status;
    for (const sub of task.subtasks ?? []) out[`${task.id}.${sub.id}`] = sub.status;
  }
  return out;
}

/** The built `orc` with the sandbox's environment and more (what a user's shell would add). */
function orcWith(
  sandbox: Sandbox,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { ...sandbox.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('orc run --taskmaster: --dry-run, --only, --write-simulated, TASKMASTER_TAG (built CLI, real daemon)', () => {
  it('--dry-run prints what would run, in order, what is held and why, and starts nothing', async () => {
    box = await Sandbox.create();
    const { dir, file } = await project();
    const before = await readFile(file, 'utf8');

    const human = await box.orc(['run', '--taskmaster', '.', '--dry-run'], { cwd: dir });
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Task Master ${file} (tag master): would run 5 tasks [SIMULATED]`);
    expect(lines[1]).toContain('nothing is written there: the run is on the simulated model');
    expect(lines.slice(3, 8).map((l) => l.trim().split(/\s+/).slice(0, 2))).toEqual([
      ['1.', '2.1'],
      ['2.', '2.2'],
      ['3.', '2'],
      ['4.', '3'],
      ['5.', '6'],
    ]);
    expect(human.stdout).toMatch(/^ +4 +review in Task Master: waits for a person to look at it$/m);
    expect(human.stdout).toMatch(/^ +5 +waits for 4, which is review$/m);
    expect(human.stdout).toContain('already done or cancelled: 1');

    const json = await box.orc(['run', '--taskmaster', '.', '--dry-run', '--json', '--only', '3'], {
      cwd: dir,
    });
    expect(json.code).toBe(0);
    const preview = JSON.parse(json.stdout) as RunPreview;
    expect(preview.order.map((t) => [t.id, t.dependencies])).toEqual([
      ['2.1', []],
      ['2.2', ['2.1']],
      ['3', ['2.2']],
    ]);
    expect(preview).toMatchObject({
      source: { kind: 'taskmaster', file, tag: 'master', writeBack: false },
      held: [],
      skipped: ['1'],
      excluded: ['2', '4', '5', '6'],
    });

    expect(JSON.parse((await box.orc(['ls', '--json'])).stdout)).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe(before);
  }, 120_000);

  it('refuses --only with an unknown id and --write-simulated or --only without Task Master, in one line each', async () => {
    box = await Sandbox.create();
    const { dir, file } = await project();
    const before = await readFile(file, 'utf8');
    const cases: [string[], RegExp][] = [
      [
        ['run', '--taskmaster', '.', '--only', '3,9'],
        /^orc: --only names 9, which is not a task or subtask in Task Master file .*tasks\.json, tag "master"; task-master list --with-subtasks shows the ids\n$/,
      ],
      [['run', '--taskmaster', '.', '--only', '3,,5'], /^orc: --only takes task ids separated by commas/],
      [
        ['run', 'write the docs', '--write-simulated'],
        /^orc: --write-simulated goes with a Task Master project/,
      ],
      [['run', 'write the docs', '--only', '3'], /^orc: --only picks tasks of a Task Master project/],
    ];
    for (const [args, message] of cases) {
      const result = await box.orc(args, { cwd: dir });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await readFile(file, 'utf8')).toBe(before);
    const runs = await box.orc(['ls', '--json']);
    expect(runs.code === 0 ? (JSON.parse(runs.stdout) as unknown[]) : []).toEqual([]);
  }, 120_000);

  it('a simulated run writes nothing into tasks.json and says so; --write-simulated with --only writes those', async () => {
    box = await Sandbox.create();
    const { dir, file } = await project();
    const before = await readFile(file, 'utf8');

    const dry = await box.orc(['run', '--taskmaster', '.', '--json'], { cwd: dir, timeoutMs: 120_000 });
    expect(dry.code).toBe(0);
    expect(dry.stderr).toBe(
      `orc: run ${(JSON.parse(dry.stdout) as RunSummary).id} reads Task Master ${file} (tag master); nothing is written there: the run is on the simulated model, and a simulated "done" is not work done (--write-simulated writes it)\n`,
    );
    const summary = JSON.parse(dry.stdout) as RunSummary & { simulated: boolean };
    expect(summary).toMatchObject({ status: 'completed', simulated: true, source: { writeBack: false } });
    expect(await readFile(file, 'utf8')).toBe(before);
    const shown = await box.orc(['show', summary.id], { cwd: dir });
    expect(shown.stdout).toContain(`from Task Master ${file} (tag master); nothing is written there`);
    expect(shown.stdout).toMatch(/^ +4 +blocked +Review me\n +held: review in Task Master/m);

    const wrote = await box.orc(
      ['run', '--taskmaster', '.', '--only', '2.2', '--write-simulated', '--json'],
      {
        cwd: dir,
        timeoutMs: 120_000,
      },
    );
    expect(wrote.stderr).toBe('');
    expect(JSON.parse(wrote.stdout)).toMatchObject({ status: 'completed', taskTotal: 2 });
    expect(statuses(await readFile(file, 'utf8'))).toEqual({
      '1': 'done',
      '2': 'pending',
      '2.1': 'done',
      '2.2': 'done',
      '3': 'pending',
      '4': 'review',
      '5': 'pending',
      '6': 'pending',
    });
  }, 240_000);

  it("reads TASKMASTER_TAG from the orc command's environment, not the daemon's", async () => {
    box = await Sandbox.create();
    const { dir } = await project();
    // The daemon was started from a shell where another tag was current.
    await box.startDaemon({ TASKMASTER_TAG: 'feature' });
    const plain = await box.orc(['run', '--taskmaster', '.', '--dry-run', '--json'], { cwd: dir });
    expect((JSON.parse(plain.stdout) as RunPreview).source?.tag).toBe('master');
    const tagged = await orcWith(box, ['run', '--taskmaster', '.', '--json', '--write-simulated'], dir, {
      TASKMASTER_TAG: 'feature',
    });
    expect(tagged.code).toBe(0);
    expect(JSON.parse(tagged.stdout)).toMatchObject({ status: 'completed', source: { tag: 'feature' } });
    const missing = await orcWith(box, ['run', '--taskmaster', '.'], dir, { TASKMASTER_TAG: 'nope' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/has no tag "nope" \(from TASKMASTER_TAG\); its tags are master, feature/);
  }, 120_000);
});

describe('orc show after a person changed a task in Task Master during a run', () => {
  let cli: TaskMasterCli;
  beforeAll(async () => {
    cli = await TaskMasterCli.create();
  });
  afterAll(async () => {
    await cli.cleanup();
  });

  it('says the task was set to deferred there and not started', async () => {
    box = await Sandbox.create();
    // A chain of six: the last starts seconds after the run does.
    const chain = Array.from({ length: 6 }, (_, i) => ({
      id: i + 1,
      title: `Step ${i + 1}`,
      description: `Step ${i + 1}`,
      status: 'pending',
      dependencies: i === 0 ? [] : [i],
      priority: 'medium',
      subtasks: [],
    }));
    const { dir } = await project(
      { master: { tasks: chain, metadata: {} } },
      { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 400, max: 500 } } },
    );
    const started = await box.orc(['run', '--taskmaster', '.', '--write-simulated', '--detach'], {
      cwd: dir,
    });
    const runId = started.stdout.trim();
    expect((await box.orc(['pause', runId])).code).toBe(0);
    const show = async () => JSON.parse((await box!.orc(['show', runId, '--json'])).stdout) as RunView;
    expect((await show()).tasks.find((t) => t.id === '6')!.status).toBe('pending');

    await cli.ok(dir, ['set-status', '--id', '6', '--status', 'deferred']);
    expect((await box.orc(['resume', runId])).code).toBe(0);
    const view = await waitFor(async () => {
      const v = await show();
      return v.status === 'completed' ? v : undefined;
    }, 60_000);
    expect(view.tasks.find((t) => t.id === '6')).toMatchObject({
      status: 'blocked',
      sourceChange: { status: 'deferred', expected: 'pending', action: 'not-started' },
    });
    const human = await box.orc(['show', runId]);
    expect(human.stdout).toMatch(
      /^ +6 +blocked +Step 6\n +set to deferred in Task Master \(was pending\): not started$/m,
    );
    const file = await readFile(join(dir, '.taskmaster', 'tasks', 'tasks.json'), 'utf8');
    expect(statuses(file)['6']).toBe('deferred');
  }, 180_000);
});
