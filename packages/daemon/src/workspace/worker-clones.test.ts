import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrcError } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { git, gitLine } from './git.js';
import { GitWorkspace } from './git-workspace.js';
import { resolveRunRemote } from './run-remote.js';
import { WorkerClones, type CloneCheckout } from './worker-clones.js';

/**
 * Both sides of a repository run whose agents work on other machines, on real git with a bare repository
 * as the remote: the daemon's workspace pushes its integration head, a worker's clone checks it out,
 * commits and pushes the task branch, and the daemon fetches that commit and merges it.
 */
let dir: string;
let repo: string;
let remote: string;
let home: string;
let root: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-worker-clones-'));
  repo = join(dir, 'repo');
  remote = join(dir, 'remote.git');
  home = join(dir, 'home');
  root = join(dir, 'worker-root');
  await mkdir(repo);
  await git(['init', '--quiet', '--initial-branch=main'], repo);
  await git(['config', 'user.name', 'Test Person'], repo);
  await git(['config', 'user.email', 'test@example.test'], repo);
  await writeFile(join(repo, 'README.md'), '# Project\n');
  await git(['add', '-A'], repo);
  await git(['commit', '--quiet', '-m', 'initial'], repo);
  await git(['init', '--quiet', '--bare', remote], dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The daemon's side of an attempt's start: the head pushed, the job's checkout. */
async function begin(ws: GitWorkspace, taskId: string): Promise<CloneCheckout> {
  const base = await ws.head();
  await ws.remote!.publish(base);
  await ws.setTaskTip(taskId, base, base);
  return {
    remote: ws.remote!.url,
    runId: ws.runId,
    base,
    baseBranch: ws.remote!.baseBranch,
    branch: `orc/${ws.runId}-tasks/${taskId}`,
    message: `${taskId}: work`,
  };
}

describe('WorkerClones and RunRemote', () => {
  it('a worker checks out the base, pushes the task branch, and the daemon merges the pushed commit', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home, remote });
    const clones = new WorkerClones(root);
    const checkout = await begin(ws, 't1');
    const worktree = await clones.checkout('r1.t1.1', checkout);
    expect(await gitLine(['rev-parse', 'HEAD'], worktree.path)).toBe(checkout.base);
    await writeFile(join(worktree.path, 'made.txt'), 'made remotely\n');
    const pushed = await worktree.publish();
    expect(pushed.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(await gitLine(['rev-parse', `refs/heads/orc/r1-tasks/t1`], remote)).toBe(pushed.commit);
    // Pushing the same attempt again changes nothing.
    expect(await worktree.publish()).toEqual(pushed);
    await worktree.remove();
    expect(existsSync(worktree.path)).toBe(false);

    await ws.remote!.fetch(pushed.branch, pushed.commit!);
    await ws.setTaskTip('t1', pushed.base, pushed.commit!);
    expect(await ws.diff('t1')).toContain('+made remotely');
    const merged = await ws.merge('t1');
    expect(merged.ok).toBe(true);
    expect(await gitLine(['show', `orc/r1:made.txt`], repo)).toBe('made remotely');
  });

  it('an attempt that changes nothing pushes nothing and merges as nothing', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home, remote });
    const worktree = await new WorkerClones(root).checkout('r1.t1.1', await begin(ws, 't1'));
    const pushed = await worktree.publish();
    expect(pushed.commit).toBeUndefined();
    expect(await gitLine(['for-each-ref', 'refs/heads/orc/r1-tasks/'], remote)).toBe('');
    expect(await ws.merge('t1')).toEqual({ ok: true });
  });

  it('a job taken up again on the same machine starts afresh: the half result of the killed try is gone', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home, remote });
    const checkout = await begin(ws, 't1');
    const killed = await new WorkerClones(root).checkout('r1.t1.1', checkout);
    await writeFile(join(killed.path, 'half.txt'), 'half done\n');
    // A new worker process, same workdir root: its try of the same job begins from the base.
    const again = await new WorkerClones(root).checkout('r1.t1.1', checkout);
    expect(again.path).toBe(killed.path);
    expect(existsSync(join(again.path, 'half.txt'))).toBe(false);
    await writeFile(join(again.path, 'whole.txt'), 'whole\n');
    const pushed = await again.publish();
    expect(await gitLine(['ls-tree', '--name-only', pushed.commit!], remote)).toBe('README.md\nwhole.txt');
  });

  it('later attempts start from the integration head the daemon pushed, with earlier work merged', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home, remote });
    const clones = new WorkerClones(root);
    for (const id of ['a', 'b']) {
      const worktree = await clones.checkout(`r1.${id}.1`, await begin(ws, id));
      await writeFile(join(worktree.path, `${id}.txt`), `${id}\n`);
      const pushed = await worktree.publish();
      await worktree.remove();
      await ws.remote!.fetch(pushed.branch, pushed.commit!);
      await ws.setTaskTip(id, pushed.base, pushed.commit!);
      expect((await ws.merge(id)).ok).toBe(true);
    }
    expect(await gitLine(['ls-tree', '--name-only', 'orc/r1'], repo)).toBe('README.md\na.txt\nb.txt');
    // One clone for the remote, whatever the number of attempts; their worktrees are gone.
    const [clone, ...others] = await readdir(root);
    expect(others).toEqual([]);
    expect(await readdir(join(root, clone!, 'attempts'))).toEqual([]);
  });

  it('a worker opening its root clears what a killed worker left, and refuses a root another worker holds', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home, remote });
    const left = await new WorkerClones(root).checkout('r1.t1.1', await begin(ws, 't1'));
    await writeFile(join(left.path, 'half.txt'), 'half done\n');
    const clones = new WorkerClones(root);
    await clones.open();
    expect(existsSync(left.path)).toBe(false);
    // A live process holds it (this test's parent stands in for another worker).
    await writeFile(join(root, 'worker.pid'), `${process.ppid}\n`);
    const refused = await new WorkerClones(root).open().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OrcError);
    expect((refused as OrcError).message).toBe(
      `the workdir root ${root} is in use by the orc worker with pid ${process.ppid}; give this worker its own with --workdir-root <dir>`,
    );
  });

  it('says which remote a worker cannot reach, as a failure the run retries', async () => {
    const clones = new WorkerClones(root);
    const checkout = {
      remote: join(dir, 'gone.git'),
      runId: 'r1',
      base: 'a'.repeat(40),
      baseBranch: 'orc/r1',
      branch: 'orc/r1-tasks/t1',
      message: 'm',
    };
    const failure = await clones.checkout('r1.t1.1', checkout).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelError);
    expect((failure as ModelError).category).toBe('transient');
    expect((failure as ModelError).message).toContain(
      `this worker could not fetch orc/r1 from ${join(dir, 'gone.git')}`,
    );
  });
});

describe('resolveRunRemote', () => {
  it('takes origin by default, a named remote, a relative path made absolute, and drops a password', async () => {
    await git(['remote', 'add', 'origin', remote], repo);
    expect(await resolveRunRemote(repo, 'origin')).toBe(remote);
    await git(['remote', 'add', 'upstream', '../remote.git'], repo);
    expect(await resolveRunRemote(join(repo), 'upstream')).toBe(remote);
    expect(await resolveRunRemote(repo, remote)).toBe(remote);
    // Unreachable from here, but its password would never be sent anyway.
    const refused = await resolveRunRemote(repo, 'https://me:s3cret@127.0.0.1:1/x.git').catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(OrcError);
    expect((refused as OrcError).message).not.toContain('s3cret');
    expect((refused as OrcError).message).toContain('https://me@127.0.0.1:1/x.git');
  });

  it('says what git found wrong with an unreachable remote, not its closing boilerplate', async () => {
    const missing = join(dir, 'nowhere.git');
    const failure = await resolveRunRemote(repo, missing).catch((error: unknown) => error);
    expect((failure as OrcError).message).toBe(
      `the daemon cannot reach the git remote ${missing} ('${missing}' does not appear to be a git repository); fix the daemon machine's access to it, or name another with --remote (repository.remote)`,
    );
  });

  it('names the missing remote and the fix', async () => {
    const failure = await resolveRunRemote(repo, 'origin').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OrcError);
    expect((failure as OrcError).message).toMatch(
      /has no git remote "origin" .*git remote add origin <url>.*--remote/,
    );
  });
});
