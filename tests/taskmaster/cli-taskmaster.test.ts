import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempProjects, tempProject } from '@orc/test-support';
import type { RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

type Entry = { id: number | string; status?: string; details?: string; subtasks?: Entry[] };

describe('orc run --taskmaster (built CLI, real daemon)', () => {
  let box: Sandbox | undefined;

  afterEach(async () => {
    await box?.cleanup();
    box = undefined;
    await removeTempProjects();
  });

  it('runs the project in the current tag, writes done back, and refuses a bad tag in one line', async () => {
    box = await Sandbox.create();
    const project = await tempProject({ fixture: 'Chious__map-app__tasks.json' });
    await writeFile(
      join(project.dir, 'orc.config.json'),
      JSON.stringify({ models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 5 } } }),
    );
    const before = await readFile(project.file, 'utf8');

    const bad = await box.orc(['run', '--taskmaster', '.', '--tag', 'nope', '--json'], { cwd: project.dir });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('nope');
    expect(await readFile(project.file, 'utf8')).toBe(before);

    // A project directory given as the argument is detected as Task Master's.
    const result = await box.orc(['run', project.dir, '--json', '--write-simulated'], {
      cwd: project.dir,
      timeoutMs: 120_000,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.status).toBe('completed');
    expect(summary.goal).toContain(project.file);

    // The daemon writes back as tasks finish; it has drained by the time the run is reported done.
    const after = JSON.parse(await readFile(project.file, 'utf8')) as Record<string, unknown>;
    // Legacy layout { tasks: [...] } or tagged { master: { tasks: [...] } }.
    const tasks = Array.isArray(after['tasks'])
      ? (after['tasks'] as Entry[])
      : Object.values(after).flatMap((tag) => (tag as { tasks?: Entry[] }).tasks ?? []);
    const entries = tasks.flatMap((t) => [t, ...(t.subtasks ?? [])]);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(['done', 'cancelled', 'deferred', 'blocked'], `task ${entry.id}`).toContain(entry.status);
    }
    expect(entries.some((e) => e.details?.includes('<info added on '))).toBe(true);
  }, 180_000);
});
