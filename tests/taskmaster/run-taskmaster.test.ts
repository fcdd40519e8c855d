import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import { TASKMASTER_FIXTURES, removeTempProjects, tempProject } from '@orc/daemon/testing';
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
      const started = await orchestrator.startRun({ taskmaster: { path: project.dir } });
      const summary = await orchestrator.waitForRun(started.id);
      expect(summary.status).toBe('completed');
      const view = orchestrator.getRun(started.id);
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
});
