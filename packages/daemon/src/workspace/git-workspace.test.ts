import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrcError } from '@orc/shared';
import { tempGitRepo, type TempGitRepo } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git, gitLine } from './git.js';
import { GitWorkspace } from './git-workspace.js';
import { gcWorktrees, listWorktrees } from './worktrees.js';

let fixture: TempGitRepo;
let dir: string;
let repo: string;
/** The state directory: the worktrees live under its `worktrees/`. */
let home: string;

beforeEach(async () => {
  fixture = await tempGitRepo('orc-git-workspace-', {
    'README.md': '# Project\n',
    'shared.txt': 'line 1\nline 2\nline 3\n',
  });
  ({ dir, repo, home } = fixture);
});

afterEach(async () => {
  await fixture.remove();
});

const sh = (args: string[], cwd = repo): Promise<string> => gitLine(args, cwd);
const fileAt = (ref: string, path: string): Promise<string> => sh(['show', `${ref}:${path}`]);
const branches = async (): Promise<string[]> =>
  (await sh(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'])).split('\n').filter(Boolean);

/** One attempt as the engine runs it: worktree, the worker's edit, commit, merge. */
async function runTask(ws: GitWorkspace, taskId: string, edit: (path: string) => Promise<void>, attempt = 1) {
  const prepared = await ws.prepareAttempt(taskId, attempt);
  await edit(prepared.path);
  const commit = await ws.commitAttempt(taskId, attempt, `task ${taskId}`);
  const merged = await ws.merge(taskId);
  return { prepared, commit, merged };
}

describe('GitWorkspace', () => {
  it('merges five parallel tasks as one commit each and leaves the starting branch alone', async () => {
    const start = await sh(['rev-parse', 'main']);
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    expect(ws.start).toEqual({ branch: 'main', commit: start });
    expect(await ws.head()).toBe(start);

    const ids = ['t1', 't2', 't3', 't4', 't5'];
    const results = await Promise.all(
      ids.map((id) => runTask(ws, id, (path) => writeFile(join(path, `${id}.txt`), `work of ${id}\n`))),
    );
    for (const { prepared, commit, merged } of results) {
      // Outside every .git directory, where Claude Code may write: under the state directory.
      expect(prepared.path).toMatch(
        new RegExp(
          `^${join(home, 'worktrees')}/repo-[0-9a-f]{12}/r1/${prepared.branch.split('/').at(-1)}/attempt-1$`,
        ),
      );
      expect(commit).toMatch(/^[0-9a-f]{40}$/);
      expect(merged).toMatchObject({ ok: true });
    }

    const log = (await sh(['log', '--format=%s%x09%P', `${start}..orc/r1`])).split('\n');
    expect(log).toHaveLength(5);
    // One parent each: a straight line of one commit per task.
    expect(log.every((line) => line.split('\t')[1]!.split(' ').length === 1)).toBe(true);
    expect(log.map((line) => line.split('\t')[0]).sort()).toEqual(ids.map((id) => `task ${id}`));
    for (const id of ids) expect(await fileAt('orc/r1', `${id}.txt`)).toBe(`work of ${id}`);

    expect(await sh(['rev-parse', 'main'])).toBe(start);
    expect(await sh(['status', '--porcelain'])).toBe('');
    expect(existsSync(join(repo, 't1.txt'))).toBe(false);

    for (const id of ids) await ws.removeAttempt(id, 1);
    expect(await listWorktrees(repo)).toHaveLength(1);
    // Merged work needs no attempt branch to keep it.
    expect((await branches()).sort()).toEqual(['main', 'orc/r1', ...ids.map((id) => `orc/r1-tasks/${id}`)]);
  });

  it('detects a conflict, keeps the branch unchanged, and merges the rework made on the new head', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const a = await ws.prepareAttempt('a', 1);
    const b = await ws.prepareAttempt('b', 1);
    await writeFile(join(a.path, 'shared.txt'), 'line 1\nline 2 by a\nline 3\n');
    await writeFile(join(b.path, 'shared.txt'), 'line 1\nline 2 by b\nline 3\n');
    await ws.commitAttempt('a', 1, 'a edits line 2');
    await ws.commitAttempt('b', 1, 'b edits line 2');

    expect(await ws.merge('a')).toMatchObject({ ok: true });
    const afterA = await ws.head();
    const conflict = await ws.merge('b');
    expect(conflict.ok).toBe(false);
    if (conflict.ok) return;
    expect(conflict.files).toEqual(['shared.txt']);
    expect(conflict.conflict).toContain('CONFLICT (content): Merge conflict in shared.txt');
    expect(conflict.conflict).toContain('<<<<<<<');
    expect(conflict.conflict).toContain('line 2 by b');
    expect(await ws.head()).toBe(afterA);

    // The failed attempt is kept, then the rework starts from the head that has a's change.
    expect(await ws.removeAttempt('b', 1)).toMatchObject({ keptOn: 'orc/r1-attempts/b/1' });
    expect(await fileAt('orc/r1-attempts/b/1', 'shared.txt')).toContain('line 2 by b');
    const rework = await ws.prepareAttempt('b', 2);
    expect(rework.base).toBe(afterA);
    const seen = await readFile(join(rework.path, 'shared.txt'), 'utf8');
    expect(seen).toBe('line 1\nline 2 by a\nline 3\n');
    await writeFile(join(rework.path, 'shared.txt'), seen.replace('line 3', 'line 3 by b'));
    await ws.commitAttempt('b', 2, 'b edits line 3');
    expect(await ws.merge('b')).toMatchObject({ ok: true });
    expect(await fileAt('orc/r1', 'shared.txt')).toBe('line 1\nline 2 by a\nline 3 by b');
  });

  it("gives a dependent task a worktree that has its dependency's work", async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    await runTask(ws, 'schema', (path) => writeFile(join(path, 'schema.sql'), 'create table t (id int);\n'));
    const dependent = await ws.prepareAttempt('migration', 1);
    expect(await readFile(join(dependent.path, 'schema.sql'), 'utf8')).toBe('create table t (id int);\n');
    expect(await ws.commitAttempt('migration', 1, 'nothing to do')).toBeUndefined();
    expect(await ws.merge('migration')).toEqual({ ok: true });
  });

  it('bounds the diff and summarises it with --stat when it is too large', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const small = await ws.prepareAttempt('small', 1);
    await appendFile(join(small.path, 'README.md'), 'More.\n');
    await ws.commitAttempt('small', 1, 'small');
    const smallDiff = await ws.diff('small', 2000);
    expect(smallDiff).toContain('+More.');
    expect(smallDiff).not.toContain('cut at');

    const big = await ws.prepareAttempt('big', 1);
    await writeFile(join(big.path, 'big.txt'), 'a fairly long line of generated text\n'.repeat(3000));
    await ws.commitAttempt('big', 1, 'big');
    const bigDiff = await ws.diff('big', 2000);
    expect(bigDiff).toMatch(/^ big\.txt \| 3000 \+/);
    expect(bigDiff).toContain('1 file changed, 3000 insertions(+)');
    expect(bigDiff).toContain('cut at');
    expect(Buffer.byteLength(bigDiff)).toBeLessThan(2100);
  });

  it('recovers a stale worktree after a crash: partial changes kept on the attempt branch, worktree gone', async () => {
    const before = await GitWorkspace.open(repo, 'r1', { home });
    const stale = await before.prepareAttempt('t1', 3);
    await writeFile(join(stale.path, 'shared.txt'), 'half done\n');
    await writeFile(join(stale.path, 'new-file.ts'), 'export const x = 1;\n');

    // The daemon restarts: the run's workspace is opened again and cleaned up.
    const after = await GitWorkspace.open(repo, 'r1', { home, ...(before.start && { start: before.start }) });
    expect(after.start).toEqual(before.start);
    const recovered = await after.recover();
    expect(recovered).toMatchObject([
      { keptOn: 'orc/r1-attempts/t1/3', branch: 'refs/heads/orc/r1-tasks/t1' },
    ]);
    expect(await fileAt('orc/r1-attempts/t1/3', 'shared.txt')).toBe('half done');
    expect(await fileAt('orc/r1-attempts/t1/3', 'new-file.ts')).toBe('export const x = 1;');
    expect(existsSync(stale.path)).toBe(false);
    expect(await listWorktrees(repo)).toHaveLength(1);
    expect(await after.head()).toBe(before.start?.commit);

    // An attempt prepared again (a restored snapshot re-runs it) starts clean, its earlier work kept.
    const again = await after.prepareAttempt('t1', 4);
    await writeFile(join(again.path, 'retry.txt'), 'first try\n');
    const retried = await after.prepareAttempt('t1', 4);
    expect(retried.path).toBe(again.path);
    expect(existsSync(join(retried.path, 'retry.txt'))).toBe(false);
    expect(await fileAt('orc/r1-attempts/t1/4', 'retry.txt')).toBe('first try');
  });

  it('gcWorktrees cleans up the worktrees of every run the same way', async () => {
    const one = await GitWorkspace.open(repo, 'r1', { home });
    const two = await GitWorkspace.open(repo, 'r2', { home });
    const a = await one.prepareAttempt('a', 1);
    const b = await two.prepareAttempt('b', 2);
    await writeFile(join(a.path, 'a.txt'), 'a\n');
    await writeFile(join(b.path, 'b.txt'), 'b\n');
    const { removed, inUse } = await gcWorktrees({ home });
    expect(removed.map((entry) => entry.keptOn).sort()).toEqual([
      'orc/r1-attempts/a/1',
      'orc/r2-attempts/b/2',
    ]);
    expect(inUse).toEqual([]);
    expect(await fileAt('orc/r2-attempts/b/2', 'b.txt')).toBe('b');
    expect(await listWorktrees(repo)).toHaveLength(1);
  });

  it('gcWorktrees leaves the worktrees of live runs alone, by branch or by folder', async () => {
    const live = await GitWorkspace.open(repo, 'r1', { home });
    const dead = await GitWorkspace.open(repo, 'r2', { home });
    const inFlight = await live.prepareAttempt('a', 1);
    await writeFile(join(inFlight.path, 'a.txt'), 'still being written\n');
    const leftover = await dead.prepareAttempt('b', 1);
    // A worktree whose branch was switched away still belongs to its run through its folder.
    const detached = await live.prepareAttempt('c', 1);
    await sh(['checkout', '--quiet', '--detach'], detached.path);

    const { removed, inUse } = await gcWorktrees({ home, repo, liveRuns: new Set(['r1']) });
    expect(removed.map((entry) => entry.path)).toEqual([leftover.path]);
    expect(inUse.map((entry) => [entry.path, entry.runId]).sort()).toEqual(
      [
        [inFlight.path, 'r1'],
        [detached.path, 'r1'],
      ].sort(),
    );
    expect(existsSync(join(inFlight.path, 'a.txt'))).toBe(true);
    expect(await listWorktrees(repo)).toHaveLength(3);
  });

  it('resets the integration branch to a checkpoint and reverts chosen tasks, newest first', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    await runTask(ws, 't1', (path) => writeFile(join(path, 'one.txt'), '1\n'));
    const checkpoint = await ws.head();
    await runTask(ws, 't2', (path) => writeFile(join(path, 'two.txt'), '2\n'));
    await runTask(ws, 't3', (path) => writeFile(join(path, 'three.txt'), '3\n'));
    const beforeRevert = await ws.head();

    const reverted = await ws.revertTasks(['t1', 't3', 'never-ran']);
    expect(reverted).toMatchObject({ ok: true, notFound: ['never-ran'] });
    if (!reverted.ok) return;
    expect(reverted.reverted.map((entry) => entry.taskId)).toEqual(['t3', 't1']);
    const tree = (await sh(['ls-tree', '--name-only', 'orc/r1'])).split('\n');
    expect(tree).toEqual(['README.md', 'shared.txt', 'two.txt']);
    expect(await sh(['rev-list', '--count', `${beforeRevert}..orc/r1`])).toBe('2');
    // Reverted tasks are not found twice.
    expect(await ws.revertTasks(['t1'])).toMatchObject({ ok: true, reverted: [], notFound: ['t1'] });

    await ws.resetTo(checkpoint);
    expect(await ws.head()).toBe(checkpoint);
    expect((await sh(['ls-tree', '--name-only', 'orc/r1'])).split('\n')).toEqual([
      'README.md',
      'one.txt',
      'shared.txt',
    ]);
    expect(await sh(['rev-parse', 'main'])).toBe(ws.start?.commit);

    await sh(['branch', 'elsewhere', ws.start!.commit]);
    await sh(['commit-tree', '-m', 'unrelated', '4b825dc642cb6eb9a060e54bf8d69288fbee4904']).then((orphan) =>
      expect(ws.resetTo(orphan)).rejects.toMatchObject({ code: 'CHECKPOINT_NOT_FOUND' }),
    );
  });

  it('refuses a revert that conflicts with later work and leaves the branch unchanged', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    await runTask(ws, 'create', (path) => writeFile(join(path, 'f.txt'), 'one\n'));
    await runTask(ws, 'change', (path) => writeFile(join(path, 'f.txt'), 'one\ntwo\n'));
    const head = await ws.head();
    const result = await ws.revertTasks(['create']);
    expect(result).toMatchObject({ ok: false, taskId: 'create' });
    if (!result.ok) expect(result.conflict).toContain('f.txt');
    expect(await ws.head()).toBe(head);
  });

  it('refuses uncommitted changes to tracked files and leaves the repository unchanged', async () => {
    await writeFile(join(repo, 'shared.txt'), 'edited by the user\n');
    await writeFile(join(repo, 'untracked.txt'), 'fine\n');
    const error = await GitWorkspace.open(repo, 'r1', { home }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OrcError);
    expect(error).toMatchObject({ code: 'INVALID_STATE' });
    expect((error as Error).message).toContain('uncommitted changes to tracked files (shared.txt)');
    expect((error as Error).message).toContain('commit them, or stash them (git stash)');
    expect(await branches()).toEqual(['main']);
    expect(existsSync(join(home, 'worktrees'))).toBe(false);
    expect(await readFile(join(repo, 'shared.txt'), 'utf8')).toBe('edited by the user\n');

    // Untracked files alone are no reason to refuse.
    await sh(['checkout', '--', 'shared.txt']);
    await expect(GitWorkspace.open(repo, 'r1', { home })).resolves.toBeInstanceOf(GitWorkspace);
  });

  it('refuses a directory that is not a git repository', async () => {
    const plain = join(dir, 'plain');
    await mkdir(plain);
    await expect(GitWorkspace.open(plain, 'r1', { home })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: `${plain} is not a git repository; run orc in a repository or pass --workdir <repo>`,
    });
    expect(existsSync(join(plain, '.git'))).toBe(false);
  });

  it('finishes by fast-forwarding the starting branch, or leaves the work for review when it moved', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    await runTask(ws, 't1', (path) => writeFile(join(path, 'one.txt'), '1\n'));
    await ws.prepareAttempt('t2', 1);
    const kept = await ws.finish({ merge: false });
    expect(kept).toMatchObject({ merged: false, branch: 'orc/r1' });
    if (!kept.merged) expect(kept.message).toContain('git merge orc/r1');
    expect(await listWorktrees(repo)).toHaveLength(1);
    // Nothing of the run is left in the state directory.
    expect(readdirSync(join(home, 'worktrees'))).toEqual([]);

    const merged = await ws.finish({ merge: true });
    expect(merged).toEqual({ merged: true, into: 'main', commit: await ws.head() });
    expect(await sh(['rev-parse', 'main'])).toBe(await ws.head());
    expect(await readFile(join(repo, 'one.txt'), 'utf8')).toBe('1\n');

    const later = await GitWorkspace.open(repo, 'r2', { home });
    await runTask(later, 't1', (path) => writeFile(join(path, 'two.txt'), '2\n'));
    await writeFile(join(repo, 'mine.txt'), 'mine\n');
    await sh(['add', 'mine.txt']);
    await sh(['commit', '--quiet', '-m', 'the user keeps working']);
    const moved = await later.finish({ merge: true });
    expect(moved).toMatchObject({ merged: false, branch: 'orc/r2' });
    if (!moved.merged) expect(moved.message).toContain('main moved since the run started');
    expect(existsSync(join(repo, 'two.txt'))).toBe(false);
  });

  it('takes up an attempt’s worktree again to resume its session, unless a rollback moved past its start', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    await runTask(ws, 'base', (path) => writeFile(join(path, 'base.txt'), 'base\n'));
    const start = await ws.head();
    const first = await ws.prepareAttempt('t1', 1);
    await writeFile(join(first.path, 'half.txt'), 'half done\n');

    // After a restart: the recovery keeps that worktree, the agent's files in it as they were.
    const after = await GitWorkspace.open(repo, 'r1', { home, ...(ws.start && { start: ws.start }) });
    const recovered = await after.recover(new Set([first.path]));
    expect(recovered.map((entry) => entry.path)).toEqual([ws.worktreePath('base', 1)]);
    const resumed = await after.resumeAttempt('t1', 1);
    expect(resumed).toEqual({ path: first.path, branch: 'orc/r1-tasks/t1', base: start });
    expect(await readFile(join(resumed!.path, 'half.txt'), 'utf8')).toBe('half done\n');
    expect(await after.resumeAttempt('t1', 2)).toBeUndefined();

    // A full rollback to before the attempt began: its worktree no longer fits, a new attempt starts.
    await after.resetTo(ws.start!.commit);
    expect(await after.resumeAttempt('t1', 1)).toBeUndefined();
  });

  it('gcWorktrees from anywhere: finds the repositories from the worktrees, leaves a folder whose repository is gone', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const leftover = await ws.prepareAttempt('a', 1);
    await writeFile(join(leftover.path, 'a.txt'), 'a\n');
    // A second repository whose worktree outlived it.
    const gone = join(dir, 'gone');
    await mkdir(gone);
    await git(['init', '--quiet', '--initial-branch=main'], gone);
    await git(
      ['-c', 'user.name=T', '-c', 'user.email=t@t', 'commit', '--quiet', '--allow-empty', '-m', 'x'],
      gone,
    );
    const orphan = (await (await GitWorkspace.open(gone, 'r9', { home })).prepareAttempt('b', 1)).path;
    await rm(gone, { recursive: true, force: true });

    const { removed, inUse, orphaned } = await gcWorktrees({ home });
    expect(removed.map((entry) => [entry.path, entry.keptOn])).toEqual([
      [leftover.path, 'orc/r1-attempts/a/1'],
    ]);
    expect(inUse).toEqual([]);
    expect(orphaned).toEqual([orphan]);
    expect(existsSync(orphan)).toBe(true);
    expect(await fileAt('orc/r1-attempts/a/1', 'a.txt')).toBe('a');
    expect(await listWorktrees(repo)).toHaveLength(1);
  });
});
