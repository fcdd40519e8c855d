import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeAnthropicServer } from '@orc/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Sandbox } from '../daemon/harness.js';
import { TaskMasterCli, type ListedTask } from '../support/task-master-cli.js';

/** `orc plan`: the manager plans, the plan is written and not run (built CLI, real daemon). */
let box: Sandbox;
let tm: TaskMasterCli;

beforeAll(async () => {
  tm = await TaskMasterCli.create();
});
afterAll(async () => {
  await tm.cleanup();
});
afterEach(async () => {
  await box.cleanup();
});

const SIMULATED = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 0 } } };

/** A shell line with `orc` in it, as a user types it: real pipes. */
function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const orc = `'${process.execPath}' '${CLI}'`;
  return new Promise((done) => {
    execFile(
      'sh',
      ['-c', script.replaceAll('orc ', `${orc} `)],
      { cwd: box.home, env: box.env, timeout: 60_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * `task-master list --format json`: Task Master may print a notice about tags after the JSON (the first
 * time it reads a project), so the JSON is what lies between the first and the last brace.
 */
async function taskMasterList(dir: string, tag?: string): Promise<ListedTask[]> {
  const out = await tm.ok(dir, ['list', '--format', 'json', ...(tag ? ['--tag', tag] : [])]);
  return (JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as { tasks: ListedTask[] }).tasks;
}

interface TasksFile {
  goal: string;
  summary: string;
  plannedBy: string;
  simulated: boolean;
  tasks: { id: string; title: string; dependencies: string[]; touches?: string[] }[];
}

describe('orc plan', () => {
  it('writes a labelled tasks file without running it; orc run runs that file as a task list', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SIMULATED);
    const planned = await box.orc(['plan', 'write', 'the', 'user', 'guide', '--out', 'plan/tasks.json']);
    expect(planned.stderr).toBe('');
    expect(planned.code).toBe(0);
    expect(planned.stdout).toMatch(/^\[SIMULATED\] planned 4 tasks: /);
    expect(planned.stdout).toContain(
      `written to ${join(box.home, 'plan', 'tasks.json')}; read and edit it, then orc run plan/tasks.json`,
    );
    const file = JSON.parse(await readFile(join(box.home, 'plan', 'tasks.json'), 'utf8')) as TasksFile;
    expect(file).toMatchObject({
      goal: 'write the user guide',
      simulated: true,
      plannedBy: 'simulated/claude-opus-5-5',
    });
    // Each task says what it will touch; the two parts run in parallel, so each has its own folder.
    expect(file.tasks.map((t) => t.touches)).toEqual([
      ['docs/plan.md'],
      ['src/guide-part-one/**'],
      ['src/guide-part-two/**'],
      ['src/**', 'README.md'],
    ]);
    // Nothing ran: the daemon has no run.
    expect(JSON.parse((await box.orc(['ls', '--json'])).stdout)).toEqual([]);

    // A person edits the plan, then runs it.
    file.tasks[0]!.title = 'Read the code first';
    await writeFile(join(box.home, 'plan', 'tasks.json'), JSON.stringify(file));
    const run = await box.orc(['run', 'plan/tasks.json', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { id: string; status: string; taskTotal: number };
    expect(summary).toMatchObject({ status: 'completed', taskTotal: 4 });
    const shown = JSON.parse((await box.orc(['show', summary.id, '--json'])).stdout) as TasksFile;
    expect(shown.tasks.map((t) => [t.id, t.title])).toEqual(file.tasks.map((t) => [t.id, t.title]));
    expect(shown.tasks[0]!.title).toBe('Read the code first');
    // The run keeps the plan's goal, not "Complete the 4 tasks from …".
    expect(shown.goal).toBe('write the user guide');
  });

  it('keeps an existing file (exit 4) without asking the manager, and replaces it with --force', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SIMULATED);
    await writeFile(join(box.home, 'tasks.json'), 'my own edits\n');
    const kept = await box.orc(['plan', 'a goal', '--out', 'tasks.json']);
    expect(kept).toEqual({
      code: 4,
      stdout: '',
      stderr: `orc: ${join(box.home, 'tasks.json')} exists and orc plan keeps it; pass --force to replace it, or --out another file\n`,
    });
    expect(await readFile(join(box.home, 'tasks.json'), 'utf8')).toBe('my own edits\n');
    // Refused before anything was asked: no daemon was even started for it.
    expect(existsSync(join(box.home, 'daemon.json'))).toBe(false);

    const forced = await box.orc(['plan', 'a goal', '--out', 'tasks.json', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const answer = JSON.parse(forced.stdout) as { simulated: boolean; written: string; tasks: unknown[] };
    expect(answer).toMatchObject({ simulated: true, written: join(box.home, 'tasks.json') });
    expect(
      (JSON.parse(await readFile(join(box.home, 'tasks.json'), 'utf8')) as TasksFile).tasks,
    ).toHaveLength(answer.tasks.length);
  });

  it('prints the plan when given nowhere to write it, into a real pipe, and refuses contradictory flags', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SIMULATED);
    const printed = await box.orc(['plan', 'tidy the docs']);
    expect(printed.code).toBe(0);
    expect((JSON.parse(printed.stdout) as TasksFile).tasks.length).toBeGreaterThan(0);
    expect(printed.stderr).toBe('orc: this plan is SIMULATED (the offline model), not a real plan\n');
    const piped = await sh(`orc plan "tidy the docs" | head -c 20`);
    expect(piped.stdout).toBe('{\n  "goal": "tidy th');
    expect((await box.orc(['plan', 'g', '--out', 'a.json', '--taskmaster', '.'])).code).toBe(2);
    const tag = await box.orc(['plan', 'g', '--tag', 'x']);
    expect(tag).toMatchObject({ code: 2, stderr: 'orc: --tag goes with --taskmaster <dir>\n' });
  });

  it('plans on the real model through the API, repairing a plan that fails the checks, unlabelled', async () => {
    let plans = 0;
    const server = await startFakeAnthropicServer({
      respond: (body) => {
        const properties = body.output_config?.format?.schema?.properties ?? {};
        if (!('tasks' in properties)) return 'not asked';
        plans += 1;
        const cyclic = plans === 1;
        return JSON.stringify({
          summary: 'Two steps.',
          tasks: [
            {
              id: 'a',
              title: 'First',
              description: 'do a',
              dependencies: cyclic ? ['b'] : [],
              priority: 'high',
            },
            { id: 'b', title: 'Second', description: 'do b', dependencies: ['a'], priority: 'medium' },
          ],
        });
      },
    });
    try {
      box = await Sandbox.create({ ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef' });
      await box.writeConfig({ models: { provider: 'anthropic', base_url: server.url } });
      const planned = await box.orc(['plan', 'two steps', '--out', 'tasks.json', '--json']);
      expect(planned.code, planned.stderr).toBe(0);
      expect(JSON.parse(planned.stdout)).toMatchObject({
        simulated: false,
        repairs: 1,
        summary: 'Two steps.',
      });
      expect(plans).toBe(2);
      const file = JSON.parse(await readFile(join(box.home, 'tasks.json'), 'utf8')) as TasksFile;
      expect(file).toMatchObject({ simulated: false, plannedBy: 'anthropic/claude-opus-5-5' });
      expect(file.tasks.map((t) => [t.id, t.dependencies])).toEqual([
        ['a', []],
        ['b', ['a']],
      ]);
    } finally {
      await server.close();
    }
  });

  it('writes a Task Master tag the real task-master CLI lists, keeps the other tags, and orc runs it', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SIMULATED);
    const project = join(box.home, 'project');
    const tasksFile = await tm.init(project);
    // A tag of the person's own, which the plan must leave alone.
    const mine = {
      id: 1,
      title: 'Keep me',
      description: 'mine',
      status: 'pending',
      priority: 'medium',
      dependencies: [],
      subtasks: [],
    };
    await writeFile(tasksFile, JSON.stringify({ master: { tasks: [mine], metadata: {} } }, null, 2));
    const planned = await box.orc(['plan', 'ship the release', '--taskmaster', project, '--tag', 'release']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`then orc run --taskmaster ${project} --tag release`);

    const listed = await taskMasterList(project, 'release');
    // Task Master numbers its tasks: the plan's t1..t4 became 1..4, dependencies renumbered alike.
    expect(listed.map((t) => [String(t.id), t.status, t.dependencies.map(String)])).toEqual([
      ['1', 'pending', []],
      ['2', 'pending', ['1']],
      ['3', 'pending', ['1']],
      ['4', 'pending', ['2', '3']],
    ]);
    expect(listed[1]!.title).toBe('Ship the release (part one)');
    // Touches go in Task Master's own field for other tools' data, which it reads back as it is.
    expect(listed.map((t) => (t as { metadata?: { touches?: string[] } }).metadata?.touches)).toEqual([
      ['docs/plan.md'],
      ['src/release-part-one/**'],
      ['src/release-part-two/**'],
      ['src/**', 'README.md'],
    ]);
    expect((await taskMasterList(project)).map((t) => t.title)).toEqual(['Keep me']);

    // The tag has tasks now: kept unless --force.
    const again = await box.orc(['plan', 'other', '--taskmaster', project, '--tag', 'release']);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('tag release of');
    expect(again.stderr).toContain('has 4 tasks and orc plan keeps them; pass --force');

    const run = await box.orc(['run', '--taskmaster', project, '--tag', 'release', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { id: string };
    expect(summary).toMatchObject({ status: 'completed', taskTotal: 4 });
    // orc run read them from there.
    const shown = JSON.parse((await box.orc(['show', summary.id, '--json'])).stdout) as TasksFile;
    expect(shown.tasks.find((t) => t.id === '2')?.touches).toEqual(['src/release-part-one/**']);
  }, 240_000);

  it('writes into a directory that is not a Task Master project yet, which task-master then reads', async () => {
    box = await Sandbox.create();
    await box.writeConfig(SIMULATED);
    const dir = join(box.home, 'fresh');
    await mkdir(dir);
    const planned = await box.orc(['plan', 'a new thing', '--taskmaster', dir]);
    expect(planned.code, planned.stderr).toBe(0);
    expect(existsSync(join(dir, '.taskmaster', 'tasks', 'tasks.json'))).toBe(true);
    expect(await taskMasterList(dir)).toHaveLength(4);
  }, 120_000);
});
