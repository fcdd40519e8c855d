import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunView } from '@orc/shared';
import { startFakeAnthropicServer, type FakeAnthropicServer } from '@orc/test-support';
import { afterEach, expect, it } from 'vitest';
import { Sandbox, waitFor } from '../daemon/harness.js';

/**
 * `orc task add|edit|rm|cancel` on a live run, as a user types them (built CLI, real daemon): edits
 * apply at once, refusals are one line with the exit code scripts rely on, and a daemon killed with
 * SIGKILL right after an edit comes back with it.
 */
let box: Sandbox;
let server: FakeAnthropicServer | undefined;
afterEach(async () => {
  await box.cleanup();
  await server?.close();
  server = undefined;
});

const HELD_TITLE = 'First, held';

it('adds, edits, cancels and removes tasks of a live run; refuses what it must; survives kill -9 after an edit', async () => {
  // The stand-in holds the first task's worker call until it is cancelled, so that task is in flight
  // however long the edits take on a loaded machine; every other call is answered at once.
  server = await startFakeAnthropicServer({
    latencyMs: (body) =>
      String(body.model).includes('sonnet') && JSON.stringify(body.messages).includes(HELD_TITLE)
        ? 600_000
        : 200,
  });
  box = await Sandbox.create({ ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef' });
  await box.writeConfig({
    models: { provider: 'anthropic', base_url: server.url },
    execution: { max_workers: 2 },
  });
  await writeFile(
    join(box.home, 'tasks.json'),
    JSON.stringify([
      { id: 'a', title: HELD_TITLE },
      { id: 'b', title: 'Second', dependencies: ['a'] },
      { id: 'c', title: 'Third', dependencies: ['b'] },
    ]),
  );
  const started = await box.orc(['run', 'tasks.json', '--detach']);
  expect(started.code, started.stderr).toBe(0);
  const runId = started.stdout.trim();
  const show = async (): Promise<RunView> => {
    const shown = await box.orc(['show', runId, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    return JSON.parse(shown.stdout) as RunView;
  };
  const task = (view: RunView, id: string) => view.tasks.find((t) => t.id === id);
  await waitFor(async () => (task(await show(), 'a')?.status === 'running' ? true : undefined));

  // While a runs: a task that waits for it, and c freed to start.
  const added = await box.orc([
    'task',
    'add',
    runId,
    '--title',
    'Extra',
    '--deps',
    'a',
    '--priority',
    'high',
  ]);
  expect(added, added.stderr).toMatchObject({ code: 0, stderr: '' });
  expect(added.stdout).toBe(`added t4 to ${runId} (executing)\n`);
  const edited = await box.orc(['task', 'edit', runId, 'c', '--title', 'Third, alone', '--deps', '']);
  expect(edited, edited.stderr).toMatchObject({
    code: 0,
    stdout: `edited c in ${runId} (executing)\n`,
  });

  // Refusals: one line each, nothing changed.
  const [inFlight, withDependents, unknownTask, unknownDep, badPriority, bothFlags, nothing, cycle] =
    await Promise.all([
      box.orc(['task', 'edit', runId, 'a', '--title', 'x']),
      box.orc(['task', 'rm', runId, 'a']),
      box.orc(['task', 'rm', runId, 'zz']),
      box.orc(['task', 'edit', runId, 'b', '--deps', 'c,zz']),
      box.orc(['task', 'edit', runId, 'b', '--priority', 'urgent']),
      box.orc(['task', 'rm', runId, 'a', '--cascade', '--keep-dependents']),
      box.orc(['task', 'edit', runId, 'b']),
      box.orc(['task', 'add', runId, '--title', 'Loop', '--id', 'c', '--deps', 'b']),
    ]);
  expect(inFlight).toMatchObject({ code: 4, stdout: '' });
  expect(inFlight.stderr).toMatch(
    new RegExp(
      `^orc: task a is (running|reviewing); cancel it first \\(orc task cancel ${runId} a\\), then edit it\n$`,
    ),
  );
  expect(withDependents).toMatchObject({
    code: 4,
    stderr:
      'orc: task a has dependents b, t4; add --cascade to remove them too, or --keep-dependents to keep them without it\n',
  });
  expect(unknownTask).toMatchObject({
    code: 3,
    stderr: `orc: run ${runId} has no task "zz"; orc show ${runId} lists them\n`,
  });
  expect(unknownDep.code).toBe(3);
  expect(unknownDep.stderr).toMatch(/^orc: task b cannot depend on "zz": .*\n$/);
  expect(badPriority).toMatchObject({
    code: 2,
    stderr: 'orc: --priority must be one of critical, high, medium, low (got "urgent")\n',
  });
  expect(bothFlags).toMatchObject({
    code: 2,
    stderr: 'orc: give --cascade or --keep-dependents, not both\n',
  });
  expect(nothing).toMatchObject({ code: 2 });
  expect(cycle).toMatchObject({
    code: 4,
    stderr: `orc: run ${runId} has a task c already; give the new one another id, or leave the id out\n`,
  });
  const cyclic = await box.orc(['task', 'edit', runId, 'b', '--deps', 't4']);
  expect(cyclic.code, cyclic.stderr).toBe(0);
  const loop = await box.orc(['task', 'edit', runId, 't4', '--deps', 'b']);
  expect(loop).toMatchObject({
    code: 4,
    stderr: 'orc: that would make a dependency cycle t4 -> b -> t4; leave one of these dependencies out\n',
  });

  // Cancel stops a's attempt and holds it; the daemon is killed at once, before it saves its document.
  const cancelled = await box.orc(['task', 'cancel', runId, 'a', '--json']);
  expect(cancelled.code, cancelled.stderr).toBe(0);
  expect(JSON.parse(cancelled.stdout)).toMatchObject({
    changed: ['a'],
    run: { id: runId, simulated: false },
  });
  process.kill((await box.daemonPid())!, 'SIGKILL');

  // The next command starts a new daemon, which replays the journal: every edit is there.
  const restored = await show();
  expect(restored.tasks.map((t) => [t.id, t.dependencies])).toEqual([
    ['a', []],
    ['b', ['t4']],
    ['c', []],
    ['t4', ['a']],
  ]);
  expect(task(restored, 'a')?.status).toBe('cancelled');
  expect(task(restored, 'c')?.title).toBe('Third, alone');
  expect(task(restored, 't4')?.priority).toBe('high');

  // Removing the held task keeps what waited for it, which then runs: the run completes.
  const removed = await box.orc(['task', 'rm', runId, 'a', '--keep-dependents']);
  expect(removed, removed.stderr).toMatchObject({
    code: 0,
    stdout: `removed a from ${runId} (executing)\n`,
  });
  const done = await waitFor(async () => {
    const view = await show();
    return view.status === 'completed' || view.status === 'failed' ? view : undefined;
  }, 90_000);
  expect(done.status).toBe('completed');
  expect(done.tasks.map((t) => [t.id, t.status])).toEqual([
    ['b', 'done'],
    ['c', 'done'],
    ['t4', 'done'],
  ]);
  const logs = await box.orc(['logs', runId]);
  expect(logs.stdout).toMatch(/plan\.tasks_added +t4 by a person/);
  expect(logs.stdout).toMatch(/plan\.tasks_removed +a by a person/);
}, 150_000);

it('adds a task with the files it touches: it waits for the task in flight that holds them', async () => {
  box = await Sandbox.create();
  await box.writeConfig({
    models: { provider: 'simulated' },
    simulated: { latency_ms: { min: 30_000, max: 30_000 } },
    execution: { max_workers: 2 },
  });
  await writeFile(
    join(box.home, 'tasks.json'),
    JSON.stringify([{ id: 'a', title: 'API', touches: ['src/api/**'] }]),
  );
  const started = await box.orc(['run', 'tasks.json', '--detach']);
  expect(started.code, started.stderr).toBe(0);
  const runId = started.stdout.trim();

  // A glob's braces hold commas of their own, so --touches is given once a path.
  const [outside, added] = await Promise.all([
    box.orc(['task', 'add', runId, '--title', 'Escape', '--touches', 'src/x.ts', '--touches', '../x']),
    box.orc([
      'task',
      'add',
      runId,
      '--title',
      'Routes',
      '--id',
      'routes',
      '--touches',
      'src/api/routes.ts',
      '--touches',
      'docs/{api,routes}.md',
    ]),
  ]);
  expect(outside).toMatchObject({
    code: 2,
    stdout: '',
    stderr: 'orc: --touches "../x": touched paths may not contain ".."\n',
  });
  expect(added, added.stderr).toMatchObject({ code: 0 });
  const shown = await waitFor(async () => {
    const text = (await box.orc(['show', runId])).stdout;
    return text.includes('waits for src/api/routes.ts held by a') ? text : undefined;
  }, 20_000);
  expect(shown).toMatch(/routes +ready +Routes/);
  const view = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as RunView;
  expect(view.tasks.map((t) => [t.id, t.touches])).toEqual([
    ['a', ['src/api/**']],
    ['routes', ['src/api/routes.ts', 'docs/{api,routes}.md']],
  ]);
  expect((await box.orc(['cancel', runId])).code).toBe(0);
}, 90_000);
