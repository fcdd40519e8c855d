import type { RunSummary } from '@orc/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClaudeSandbox,
  extraWorktrees,
  filesAt,
  git,
  taskStates,
  userState,
  workingFiles,
} from './claude-sandbox.js';

// One daemon for these runs; each run has its own repository.
let sb: ClaudeSandbox;

beforeAll(async () => {
  sb = await ClaudeSandbox.create();
});

afterAll(async () => {
  await sb.cleanup();
});

/** The run's task commits on its integration branch, oldest first, with the files each one changed. */
async function taskCommits(repo: string, start: string, branch: string) {
  const hashes = (await git(repo, 'rev-list', '--reverse', '--first-parent', `${start}..${branch}`))
    .split('\n')
    .filter(Boolean);
  return Promise.all(
    hashes.map(async (commit) => ({
      task: /^Orc-Task: (\S+)$/m.exec(await git(repo, 'log', '-1', '--format=%B', commit))?.[1],
      files: (await git(repo, 'diff-tree', '--no-commit-id', '--name-only', '-r', commit)).split('\n'),
    })),
  );
}

describe('Claude Code workers in git worktrees (built CLI, real daemon, the real Claude Code)', () => {
  it('five tasks in parallel on different files: one commit each on orc/<run>, the starting branch untouched', async () => {
    const repo = await sb.repo({ 'README.md': '# project\n', 'src/keep.txt': 'kept\n' });
    const before = await userState(repo);
    const ids = ['t1', 't2', 't3', 't4', 't5'];
    const cwd = await sb.runFolder(
      ids.map((id) => ({ id, lines: [`WRITE src/${id}.txt: made by ${id}\\n`] })),
      { workers: 5 },
    );

    const result = await sb.run(cwd, repo);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.status).toBe('completed');
    const run = await sb.view(summary.id);
    expect(taskStates(run)).toEqual(Object.fromEntries(ids.map((id) => [id, 'done'])));

    // The five ran at the same time: all were handed out before the first was done.
    const log = await sb.events(summary.id);
    const firstDone = log.findIndex((e) => e.type === 'task.completed');
    expect(log.slice(0, firstDone).filter((e) => e.type === 'task.assigned')).toHaveLength(5);
    // Each worker ran in its own worktree, not in the repository.
    for (const task of run.tasks) expect(task.attempts).toHaveLength(1);

    const branch = `orc/${summary.id}`;
    const commits = await taskCommits(repo, before.head, branch);
    expect(commits.map((c) => c.task).sort()).toEqual(ids);
    for (const commit of commits) expect(commit.files).toEqual([`src/${commit.task}.txt`]);
    expect(await filesAt(repo, branch)).toEqual({
      'README.md': '# project\n',
      'src/keep.txt': 'kept\n',
      ...Object.fromEntries(ids.map((id) => [`src/${id}.txt`, `made by ${id}\n`])),
    });
    const integrated = log.find((e) => e.type === 'run.integrated');
    expect(integrated).toMatchObject({ branch, merged: false });

    // The user's side: same HEAD, same branches, same files, nothing left behind.
    expect(await userState(repo)).toEqual(before);
    expect(await extraWorktrees(repo)).toEqual([]);
  });

  it('two tasks appending to one file: the conflict is found, the second is reworked on top of the first', async () => {
    const repo = await sb.repo({ 'shared.txt': 'base\n' });
    const before = await userState(repo);
    const cwd = await sb.runFolder(
      [
        { id: 'left', lines: ['APPEND shared.txt: from left\\n'] },
        { id: 'right', lines: ['APPEND shared.txt: from right\\n'] },
      ],
      { workers: 2 },
    );

    const result = await sb.run(cwd, repo);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.status).toBe('completed');
    const run = await sb.view(summary.id);
    expect(taskStates(run)).toEqual({ left: 'done', right: 'done' });

    // Whichever merged second conflicted, was sent back with the conflict, and redid its change.
    const reworked = run.tasks.filter((t) => t.reworks > 0);
    expect(reworked).toHaveLength(1);
    const second = reworked[0]!;
    const first = run.tasks.find((t) => t.id !== second.id)!;
    expect(second.attempts).toHaveLength(2);
    expect(first.attempts).toHaveLength(1);
    const log = await sb.events(summary.id);
    expect(log).toContainEqual(
      expect.objectContaining({
        type: 'task.status',
        taskId: second.id,
        status: 'ready',
        reason: 'merge conflict in shared.txt',
      }),
    );

    const branch = `orc/${summary.id}`;
    expect((await filesAt(repo, branch))['shared.txt']).toBe(`base\nfrom ${first.id}\nfrom ${second.id}\n`);
    const commits = await taskCommits(repo, before.head, branch);
    expect(commits.map((c) => c.task)).toEqual([first.id, second.id]);
    expect(await userState(repo)).toEqual(before);
    expect(await extraWorktrees(repo)).toEqual([]);
  });

  it('a conflict past max_reworks holds the task as blocked, with its branch left to merge by hand', async () => {
    const repo = await sb.repo({ 'shared.txt': 'base\n' });
    const before = await userState(repo);
    const cwd = await sb.runFolder(
      [
        { id: 'left', lines: ['APPEND shared.txt: from left\\n'] },
        { id: 'right', lines: ['APPEND shared.txt: from right\\n'] },
      ],
      { workers: 2, maxReworks: 0 },
    );

    const runId = await sb.detach(cwd, repo);
    const run = await sb.waitForRun(runId, (r) => r.tasks.some((t) => t.status === 'blocked'));
    const held = run.tasks.find((t) => t.status === 'blocked')!;
    const merged = run.tasks.find((t) => t.id !== held.id)!;
    expect(merged.status).toBe('done');
    expect(held.error).toBe('still conflicts after 0 reworks (shared.txt); merge its branch by hand');
    // Only the first change is on the integration branch; the held one is on its task branch.
    const branch = `orc/${runId}`;
    expect((await filesAt(repo, branch))['shared.txt']).toBe(`base\nfrom ${merged.id}\n`);
    expect((await filesAt(repo, `orc/${runId}-tasks/${held.id}`))['shared.txt']).toBe(
      `base\nfrom ${held.id}\n`,
    );
    expect(await userState(repo)).toEqual(before);
    // The run ends as failed, the held task named as one that could not go on.
    const ended = await sb.waitForRun(runId, (r) => r.status === 'failed' || r.status === 'completed');
    expect(ended.status).toBe('failed');
    expect(ended.error).toMatch(/^1 task blocked \(first: \S+: still conflicts after 0 reworks/);
    expect(await extraWorktrees(repo)).toEqual([]);
  });

  it('a dependent task sees its dependency’s file; --merge fast-forwards the starting branch', async () => {
    const repo = await sb.repo();
    const before = await userState(repo);
    const cwd = await sb.runFolder([
      { id: 'config', lines: ['WRITE lib/config.txt: value=42\\n'] },
      {
        id: 'app',
        // The agent reads lib/config.txt in its worktree: only there when the dependency's work is.
        lines: ['COPY lib/config.txt app/copied.txt', 'WRITE app/main.txt: uses the config\\n'],
        dependencies: ['config'],
      },
    ]);

    const result = await sb.run(cwd, repo, ['--merge']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    const run = await sb.view(summary.id);
    expect(taskStates(run)).toEqual({ config: 'done', app: 'done' });
    expect(run.tasks.find((t) => t.id === 'app')!.attempts).toHaveLength(1);

    const branch = `orc/${summary.id}`;
    const expected = {
      'README.md': '# project\n',
      'lib/config.txt': 'value=42\n',
      'app/copied.txt': 'value=42\n',
      'app/main.txt': 'uses the config\n',
    };
    expect(await filesAt(repo, branch)).toEqual(expected);
    // main was checked out and clean: it now is the integration branch, files and all.
    const integrationHead = await git(repo, 'rev-parse', branch);
    expect(await git(repo, 'rev-parse', 'main')).toBe(integrationHead);
    expect(await git(repo, 'rev-parse', `${integrationHead}~2`)).toBe(before.head);
    expect(await workingFiles(repo)).toEqual(expected);
    expect(await git(repo, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    const log = await sb.events(summary.id);
    expect(log.find((e) => e.type === 'run.integrated')).toMatchObject({ merged: true });
    expect(await extraWorktrees(repo)).toEqual([]);
  });
});
