import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempGitRepo, type TempGitRepo } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitWorkspace } from './git-workspace.js';
import { taskDiff } from './task-diff.js';

let fixture: TempGitRepo;
let dir: string;
let repo: string;

beforeEach(async () => {
  fixture = await tempGitRepo('orc-task-diff-');
  ({ dir, repo } = fixture);
});

afterEach(async () => {
  await fixture.remove();
});

describe('taskDiff', () => {
  it("reads a merged task's commit, an unmerged task's branch, and nothing for a task without work", async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home: join(dir, 'home') });
    // Two tasks whose ids differ only where a regex dot would match anything.
    for (const id of ['a.1', 'ax1']) {
      const prepared = await ws.prepareAttempt(id, 1);
      await writeFile(join(prepared.path, `${id}.txt`), `work of ${id}\n`);
      await ws.commitAttempt(id, 1, `task ${id}`);
      expect(await ws.merge(id)).toMatchObject({ ok: true });
      await ws.removeAttempt(id, 1);
    }
    const open = await ws.prepareAttempt('b', 1);
    await writeFile(join(open.path, 'b.txt'), 'unreviewed\n');
    await ws.commitAttempt('b', 1, 'task b');
    await ws.removeAttempt('b', 1);

    const merged = await taskDiff(repo, 'r1', 'a.1');
    expect(merged?.source).toMatch(/^commit [0-9a-f]{12} on orc\/r1$/);
    expect(merged?.diff).toContain('+work of a.1');
    expect(merged?.diff).not.toContain('ax1');
    const unmerged = await taskDiff(repo, 'r1', 'b');
    expect(unmerged).toEqual({
      source: 'branch orc/r1-tasks/b (not merged)',
      diff: expect.stringContaining('+unreviewed') as string,
    });
    expect(await taskDiff(repo, 'r1', 'never-ran')).toBeUndefined();
    expect(await taskDiff(repo, 'r-other', 'a.1')).toBeUndefined();
  });
});
