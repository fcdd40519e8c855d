import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, type TestRedis } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claudeHome, type ClaudeHome } from '../support/real-claude.js';
import {
  doneCounts,
  journalOf,
  startRemoteWorker,
  stopRemoteWorkers,
  type RemoteWorkerProcess,
} from '../daemon/remote-workers.js';
import { ClaudeSandbox, filesAt, git, taskStates, userState, waitUntil } from './claude-sandbox.js';

/**
 * Claude Code agents on remote workers, all real: a daemon with `execution.backend: "redis"` on a real
 * redis-server, two `orc worker` processes with homes, workdir roots and Claude Code homes of their own,
 * the real Claude Code (the Agent SDK's binary) talking to the stand-in model, and real git with a bare
 * repository as the run's remote. The workers clone it, work, push their task branches; the daemon
 * fetches and merges.
 */
let redis: TestRedis;
let sb: ClaudeSandbox;
const workers: RemoteWorkerProcess[] = [];
const homes: ClaudeHome[] = [];
const folders: string[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
  sb = await ClaudeSandbox.create();
  await sb.box.writeConfig({ execution: { backend: 'redis' }, redis: { url: redis.url, stall_seconds: 2 } });
});

afterEach(async () => {
  await stopRemoteWorkers(workers);
  for (const home of homes.splice(0)) await home.remove();
  await sb.cleanup();
  await redis.stop();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/** A repository whose `origin` is a bare repository (a path: the "network" here is the file system). */
async function repoWithRemote(): Promise<{ repo: string; remote: string }> {
  await sb.box.startDaemon();
  const repo = await sb.repo({ 'README.md': '# project\n' });
  const remote = join(await sb.folder('remote'), 'project.git');
  await run('git', ['init', '--quiet', '--bare', remote]);
  await git(repo, 'remote', 'add', 'origin', remote);
  return { repo, remote };
}

/** An `orc worker` whose Claude Code talks to the stand-in from a Claude Code home of its own. */
async function claudeWorker(
  workdirRoot?: string,
): Promise<{ worker: RemoteWorkerProcess; claude: ClaudeHome }> {
  const claude = await claudeHome(sb.standIn);
  homes.push(claude);
  const config = { claude_cli: { environment: claude.environment } };
  const args = [
    '--redis',
    redis.url,
    '--concurrency',
    '2',
    ...(workdirRoot ? ['--workdir-root', workdirRoot] : []),
  ];
  const worker = await startRemoteWorker(args, config, workers);
  return { worker, claude };
}

describe('Claude Code agents on remote workers (real redis-server, real git, the real Claude Code)', () => {
  it('runs a repository run on two workers, one killed mid-attempt; every task merged once, no half result pushed', async () => {
    const { repo, remote } = await repoWithRemote();
    const before = await userState(repo);
    const root = await mkdtemp(join(tmpdir(), 'orc-workdir-root-'));
    folders.push(root);
    const first = await claudeWorker(root);
    // The other one keeps its clones under its own state directory (the default).
    const second = await claudeWorker();
    const ids = ['t1', 't2', 't3', 't4'];
    const cwd = await sb.runFolder(
      [
        ...ids.map((id) => ({ id, lines: [`WRITE src/${id}.txt: made by ${id}\\n`] })),
        { id: 'slow', lines: ['WRITE partial.txt: half done\\n', 'HANG g1', 'WRITE final.txt: all done\\n'] },
      ],
      { workers: 4 },
    );
    const runId = await sb.detach(cwd, repo);

    // The agent of `slow` wrote its half and waits at the gate: its worker is killed there.
    await waitUntil('the slow agent waits at its gate', () => sb.standIn.waiting('g1') >= 1, 90_000);
    const client = await sb.client();
    const holder = await waitForValue(async () => {
      const status = await client.trpc.daemon.workers.query();
      const found = status?.workers.find((w) => w.running.some((job) => job.taskId === 'slow'));
      return [first, second].find((w) => w.worker.child.pid === found?.pid);
    });
    const survivor = holder === first ? second : first;
    holder.worker.child.kill('SIGKILL');
    await holder.worker.exited;
    // Its agent runs in a process group of its own, as a worker machine's power cut would not leave it.
    await holder.claude.remove();
    sb.standIn.open('g1');

    const done = await sb.waitForRun(runId, (view) => view.status === 'completed', 150_000);
    expect(taskStates(done)).toEqual(Object.fromEntries([...ids, 'slow'].map((id) => [id, 'done'])));
    const { completed, worked } = doneCounts(await journalOf(sb.home, runId));
    expect([...completed.values()]).toEqual([1, 1, 1, 1, 1]);
    expect([...worked.values()].every((count) => count === 1)).toBe(true);
    // The killed worker's job was taken over as the same attempt, not a second one.
    expect(done.tasks.find((task) => task.id === 'slow')!.attempts).toHaveLength(1);

    // Every task's work is merged into the daemon's repository, one commit each, the slow one's whole.
    const branch = `orc/${runId}`;
    expect(await filesAt(repo, branch)).toEqual({
      'README.md': '# project\n',
      ...Object.fromEntries(ids.map((id) => [`src/${id}.txt`, `made by ${id}\n`])),
      'partial.txt': 'half done\n',
      'final.txt': 'all done\n',
    });
    const subjects = (await git(repo, 'log', '--format=%s', `${before.head}..${branch}`)).split('\n');
    expect(subjects).toHaveLength(5);
    // The task branches were pushed to the remote by the workers; the slow one holds the whole answer.
    const pushed = await git(
      remote,
      'for-each-ref',
      '--format=%(refname:short)',
      `refs/heads/orc/${runId}-tasks/`,
    );
    expect(pushed.split('\n').sort()).toEqual(
      [...ids, 'slow'].map((id) => `orc/${runId}-tasks/${id}`).sort(),
    );
    expect(Object.keys(await filesAt(remote, `orc/${runId}-tasks/slow`)).sort()).toEqual([
      'README.md',
      'final.txt',
      'partial.txt',
    ]);
    // The user's side is untouched; the surviving worker left no worktree behind.
    expect(await userState(repo)).toEqual(before);
    const survivorRoot = survivor === first ? root : join(survivor.worker.home, 'worker-clones');
    const clones = (await readdir(survivorRoot, { withFileTypes: true })).filter((entry) =>
      entry.isDirectory(),
    );
    expect(clones).toHaveLength(1);
    expect(await readdir(join(survivorRoot, clones[0]!.name, 'attempts'))).toEqual([]);
  }, 240_000);

  it('sends a rework back through the remote: two tasks appending to one file both land', async () => {
    const { repo } = await repoWithRemote();
    await claudeWorker();
    const cwd = await sb.runFolder(
      [
        { id: 'left', lines: ['APPEND shared.txt: from left\\n'] },
        { id: 'right', lines: ['APPEND shared.txt: from right\\n'] },
      ],
      { workers: 2 },
    );
    const runId = await sb.detach(cwd, repo);
    const done = await sb.waitForRun(runId, (view) => view.status === 'completed', 120_000);
    expect(taskStates(done)).toEqual({ left: 'done', right: 'done' });
    const reworked = done.tasks.filter((task) => task.reworks > 0);
    // Both ran from the same base: whichever merged second conflicted and was redone on top of the first.
    expect(reworked).toHaveLength(1);
    const second = reworked[0]!.id;
    const firstId = second === 'left' ? 'right' : 'left';
    expect((await filesAt(repo, `orc/${runId}`))['shared.txt']).toBe(`from ${firstId}\nfrom ${second}\n`);
  }, 180_000);
});

describe('a daemon killed while a remote agent works', () => {
  it('the worker finishes and pushes; the restarted daemon takes that answer and merges it, with no second agent', async () => {
    const { repo } = await repoWithRemote();
    await claudeWorker();
    const cwd = await sb.runFolder([
      { id: 'long', lines: ['WRITE first.txt: one\\n', 'HANG g2', 'WRITE second.txt: two\\n'] },
    ]);
    const runId = await sb.detach(cwd, repo);
    await waitUntil('the agent waits at its gate', () => sb.standIn.waiting('g2') >= 1, 90_000);
    const sessions = () =>
      new Set(
        sb.standIn.requests.filter((r) => r.kind === 'work' && r.task === 'long').map((r) => r.session),
      );
    process.kill((await sb.box.daemonPid())!, 'SIGKILL');
    sb.forgetClient();
    // The worker goes on without the daemon: its agent finishes and the task branch is pushed.
    sb.standIn.open('g2');
    await sb.box.startDaemon();
    const done = await sb.waitForRun(runId, (view) => view.status === 'completed', 120_000);
    expect(taskStates(done)).toEqual({ long: 'done' });
    expect(await filesAt(repo, `orc/${runId}`)).toMatchObject({
      'first.txt': 'one\n',
      'second.txt': 'two\n',
    });
    // One agent session did the work: the answer was taken, not made again.
    expect(sessions().size).toBe(1);
  }, 180_000);
});

describe('a remote agent that asks for a permission', () => {
  it('asks through the daemon inbox, and goes on with the answer', async () => {
    const { repo } = await repoWithRemote();
    await claudeWorker();
    const cwd = await sb.runFolder([
      {
        id: 'asks',
        lines: ['BASH curl -s http://127.0.0.1:9/ ; touch asked.ran', 'WRITE asked.done: went on\\n'],
      },
    ]);
    const runId = await sb.detach(cwd, repo);
    const client = await sb.client();
    const item = await waitForValue(async () => {
      const { items } = await client.trpc.inbox.list.query();
      return items.find((entry) => entry.type === 'permission');
    }, 90_000);
    expect(item).toMatchObject({ runId, taskId: 'asks', attempt: 1, status: 'open' });
    expect(item.question).toBe(
      'worker 0 on task asks asks to use Bash: curl -s http://127.0.0.1:9/ ; touch asked.ran',
    );
    const answered = await sb.orc(['answer', item.id, 'allow']);
    expect(answered.code, answered.stderr).toBe(0);
    const done = await sb.waitForRun(runId, (view) => view.status === 'completed', 90_000);
    expect(done.tasks[0]!.attempts[0]!.refusals).toBeUndefined();
    expect(await filesAt(repo, `orc/${runId}`)).toMatchObject({ 'asked.ran': '', 'asked.done': 'went on\n' });
  }, 180_000);
});

describe('a repository run on the Redis backend without a remote', () => {
  it('is refused in one line that names the fix, and changes nothing', async () => {
    await sb.box.startDaemon();
    const repo = await sb.repo();
    const cwd = await sb.runFolder([{ id: 't1', lines: ['WRITE a.txt: a\\n'] }]);
    const result = await sb.orc(['run', 'tasks.json', '--workdir', repo, '--detach'], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `orc: ${repo} has no git remote "origin" for orc workers on other machines to fetch and push; add one (git remote add origin <url>) or name a remote or URL with --remote (repository.remote)`,
    ]);
    expect(await git(repo, 'for-each-ref', 'refs/heads/orc/')).toBe('');
    expect(await (await sb.client()).trpc.runs.list.query()).toHaveLength(0);
    // A remote it cannot reach is named too.
    const missing = join(sb.home, 'no-such-remote.git');
    const unreachable = await sb.orc(
      ['run', 'tasks.json', '--workdir', repo, '--remote', missing, '--detach'],
      cwd,
    );
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain(`the daemon cannot reach the git remote ${missing}`);
    expect(existsSync(missing)).toBe(false);
  }, 60_000);
});

async function waitForValue<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(command, args, (error) => (error ? reject(new Error(error.message)) : resolve())),
  );
}
