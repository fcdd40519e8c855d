import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrcEvent } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_SIM, Sandbox } from './harness.js';

/**
 * The state directory's layout is a contract (the README's "State directory"): scripts read
 * `runs/<id>/state.json` and grep `runs/<id>/events.jsonl`. This pins it as a script sees it, with
 * nothing but the file system: if it has to change, the README and this test change together.
 */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

/** Every name the store may put in a run's folder. */
const RUN_FOLDER = [
  /^state\.json$/,
  /^settled\.jsonl$/,
  /^events\.jsonl$/,
  /^checkpoints$/,
  /^state\.json\.damaged-[0-9TZ-]+$/,
];

describe('the state directory, as scripts rely on it', () => {
  it('runs/<id>/state.json is the run, runs/<id>/events.jsonl one event a line', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ ...FAST_SIM, checkpoints: { every_n_tasks: 1 } });
    const tasks = [
      { id: 'fetch', title: 'Fetch the data' },
      { id: 'clean', title: 'Clean it', dependencies: ['fetch'] },
      { id: 'report', title: 'Write the report', dependencies: ['clean'] },
    ];
    const file = join(box.home, 'tasks.json');
    await writeFile(file, JSON.stringify(tasks));
    const ran = await box.orc(['run', file, '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const runId = (JSON.parse(ran.stdout) as { id: string }).id;
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);

    const runs = join(box.home, 'runs');
    const dir = join(runs, runId);
    expect((await readdir(runs)).sort()).toEqual(['index.json', runId].sort());
    const names = (await readdir(dir)).sort();
    expect(names).toEqual(['checkpoints', 'events.jsonl', 'state.json']);
    for (const name of names)
      expect(
        RUN_FOLDER.some((pattern) => pattern.test(name)),
        name,
      ).toBe(true);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const name of ['state.json', 'events.jsonl'])
      expect((await stat(join(dir, name))).mode & 0o777).toBe(0o600);

    // state.json: one JSON document, the run and every task with its status and result (a finished run's is
    // whole: a live one names its settled tasks by id, in settled.jsonl).
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as {
      version: number;
      id: string;
      goal: string;
      status: string;
      lastEventId: number;
      tasks: { id: string; title: string; status: string; dependencies: string[]; result?: string }[];
    };
    expect(state).toMatchObject({ version: 1, id: runId, status: 'completed' });
    expect(state.tasks.map((t) => [t.id, t.title, t.status, t.dependencies])).toEqual(
      tasks.map((t) => [t.id, t.title, 'done', t.dependencies ?? []]),
    );
    for (const task of state.tasks) expect(task.result).toEqual(expect.any(String));

    // events.jsonl: one compact JSON event a line, newline-terminated, ids 1, 2, 3… with a dotted type.
    const text = await readFile(join(dir, 'events.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    const events = lines.map((line) => OrcEvent.parse(JSON.parse(line)));
    expect(events.map((e) => e.id)).toEqual(lines.map((_, i) => i + 1));
    expect(state.lastEventId).toBe(events.length);
    for (const event of events) {
      expect(event.runId).toBe(runId);
      expect(event.type).toMatch(/^[a-z]+(\.[a-z_]+)+$/);
    }
    expect(events[0]!.type).toBe('run.created');
    expect(events.some((e) => e.type === 'run.completed')).toBe(true);
    // What `grep -c '"type":"task.completed"' events.jsonl` counts: one line per finished task.
    expect(lines.filter((line) => line.includes('"type":"task.completed"'))).toHaveLength(tasks.length);
    const completed = events.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : []));
    expect(completed).toEqual(tasks.map((t) => t.id));

    // checkpoints/<id>.json: copies of the document.
    const checkpoints = await readdir(join(dir, 'checkpoints'));
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const name of checkpoints) {
      expect(name).toMatch(/^cp\d+\.json$/);
      const copy = JSON.parse(await readFile(join(dir, 'checkpoints', name), 'utf8')) as { id: string };
      expect(copy.id).toBe(runId);
    }

    // runs/index.json: every run with its status, without opening the runs.
    const index = JSON.parse(await readFile(join(runs, 'index.json'), 'utf8')) as {
      version: number;
      runs: { id: string; status: string; goal: string; createdAt: string }[];
    };
    expect(index.version).toBe(1);
    expect(index.runs).toMatchObject([{ id: runId, status: 'completed', goal: state.goal }]);
  });
});
