import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import { TASKMASTER_FIXTURES, removeTempProjects, tempProject } from '@orc/test-support';
import { loadConfig } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';

type Json = Record<string, unknown>;
interface TmTask extends Json {
  id: number | string;
  status?: string;
  details?: string;
  subtasks?: TmTask[];
}

function tasksOf(data: Json, tag: string): TmTask[] {
  const tagged = data[tag] as { tasks?: TmTask[] } | undefined;
  return tagged?.tasks ?? (data['tasks'] as TmTask[] | undefined) ?? [];
}

/** Every task and subtask with its `P.S` address. */
function flatten(tasks: TmTask[]): Map<string, TmTask> {
  const out = new Map<string, TmTask>();
  for (const task of tasks) {
    out.set(String(task.id), task);
    for (const sub of task.subtasks ?? []) out.set(`${task.id}.${sub.id}`, sub);
  }
  return out;
}

/** The keys a Task Master entry had, except what write-back may change. */
function stableFields(entry: TmTask): Json {
  const { status: _s, details: _d, updatedAt: _u, subtasks: _t, ...rest } = entry;
  return rest;
}

describe('running a Task Master project', () => {
  let orchestrator: Orchestrator | undefined;
  const homes: string[] = [];

  afterEach(async () => {
    await orchestrator?.close(0);
    orchestrator = undefined;
    await removeTempProjects();
    await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })));
  });

  it.each(TASKMASTER_FIXTURES)(
    'runs %s to completion and writes every runnable task back done',
    async (fixture) => {
      const project = await tempProject({ fixture });
      const before = JSON.parse(await readFile(project.file, 'utf8')) as Json;
      const home = await mkdtemp(join(tmpdir(), 'orc-home-'));
      homes.push(home);
      const loaded = loadConfig({
        env: {},
        cwd: home,
        skipUserConfig: true,
        overrides: { execution: { max_workers: 8 }, simulated: { latency_ms: { min: 0, max: 2 } } },
      });
      orchestrator = await createOrchestrator({ home, loaded });
      const started = await orchestrator.startRun({
        taskmaster: { path: project.dir, writeSimulated: true },
      });
      const summary = await orchestrator.waitForRun(started.id);
      expect(summary.status).toBe('completed');
      const view = await orchestrator.getRun(started.id);
      const ran = view.tasks.filter((t) => t.held === undefined);
      expect(ran.length).toBeGreaterThan(0);
      expect(ran.every((t) => t.status === 'done')).toBe(true);
      // Closing waits for the queued write-backs to land.
      await orchestrator.close();
      orchestrator = undefined;

      const text = await readFile(project.file, 'utf8');
      expect(text.endsWith('\n')).toBe(false);
      const after = JSON.parse(text) as Json;
      expect(Object.keys(after)).toEqual(Object.keys(before));
      const tag = Object.keys(before).includes('master') ? 'master' : Object.keys(before)[0]!;
      const beforeTasks = flatten(tasksOf(before, tag));
      const afterTasks = flatten(tasksOf(after, tag));
      expect([...afterTasks.keys()]).toEqual([...beforeTasks.keys()]);
      for (const [id, old] of beforeTasks) {
        const now = afterTasks.get(id)!;
        expect(stableFields(now)).toEqual(stableFields(old));
        expect(typeof now.id).toBe(typeof old.id);
      }
      for (const task of ran) {
        const entry = afterTasks.get(task.id)!;
        expect(entry.status, `task ${task.id}`).toBe('done');
        expect(entry.details).toMatch(/<info added on [^>]+>[\s\S]+<\/info added on [^>]+>/);
      }
    },
  );

  it('catches Task Master up after a restart lost the write-back of finished tasks', async () => {
    const project = await tempProject({ fixture: TASKMASTER_FIXTURES[0] });
    const home = await mkdtemp(join(tmpdir(), 'orc-home-'));
    homes.push(home);
    const loaded = loadConfig({
      env: {},
      cwd: home,
      skipUserConfig: true,
      overrides: { execution: { max_workers: 4 }, simulated: { latency_ms: { min: 0, max: 2 } } },
    });
    orchestrator = await createOrchestrator({ home, loaded });
    const started = await orchestrator.startRun({ taskmaster: { path: project.dir, writeSimulated: true } });
    expect((await orchestrator.waitForRun(started.id)).status).toBe('completed');
    const ran = (await orchestrator.getRun(started.id)).tasks
      .filter((t) => t.held === undefined)
      .map((t) => t.id);
    await orchestrator.close();
    orchestrator = undefined;

    // As if the daemon died after the tasks started and before their results were written back.
    const done = JSON.parse(await readFile(project.file, 'utf8')) as Json;
    const tag = Object.keys(done).includes('master') ? 'master' : Object.keys(done)[0]!;
    const lost = ran.slice(0, 2);
    for (const id of lost) {
      const entry = flatten(tasksOf(done, tag)).get(id)!;
      entry.status = 'in-progress';
      entry.details = '';
    }
    await writeFile(project.file, JSON.stringify(done, null, 2));

    orchestrator = await createOrchestrator({ home, loaded });
    await orchestrator.close();
    orchestrator = undefined;
    const after = JSON.parse(await readFile(project.file, 'utf8')) as Json;
    const entries = flatten(tasksOf(after, tag));
    for (const id of lost) {
      expect(entries.get(id)!.status, `task ${id}`).toBe('done');
      expect(entries.get(id)!.details).toMatch(/^<info added on [^>]+>\n[\s\S]+<\/info added on [^>]+>$/);
    }
  });
});
