import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NewEvent } from '@orc/shared';
import pino from 'pino';
import { tempGitRepo, type TempGitRepo } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git, gitLine } from '../workspace/git.js';
import { GitWorkspace } from '../workspace/git-workspace.js';
import { listWorktrees } from '../workspace/worktrees.js';
import { MergeQueue } from './merge-queue.js';
import { MergeTrain, type TrainHost } from './merge-train.js';

/** Fails when any tracked file holds the marker: a test suite that a change can break. */
const MARKER_CHECK = '! git grep -q BROKEN -- .';

let dir: string;
let repo: string;
let home: string;
let start: string;

let fixture: TempGitRepo;

beforeEach(async () => {
  fixture = await tempGitRepo('orc-merge-train-');
  ({ dir, repo, home, start } = fixture);
});

afterEach(async () => {
  await fixture.remove();
});

/** A task's accepted attempt: its worktree, the worker's files, its commit on the task branch. */
async function accepted(ws: GitWorkspace, taskId: string, files: Record<string, string>): Promise<void> {
  const { path } = await ws.prepareAttempt(taskId, 1);
  for (const [name, content] of Object.entries(files)) await writeFile(join(path, name), content);
  await ws.commitAttempt(taskId, 1, `work of ${taskId}`);
}

/** A run as the train sees it: what it was told, in order. */
class RecordingHost implements TrainHost {
  readonly runId = 'r1';
  readonly logger = pino({ level: 'silent' });
  readonly events: NewEvent[] = [];
  readonly landedIds: string[] = [];
  readonly rejections = new Map<string, { feedback: string; reason: string }>();
  readonly conflicts: string[] = [];
  readonly failures: string[] = [];
  readonly pauses: string[] = [];
  readonly merging = new Set<string>();
  executing = true;
  settingsNow = { command: MARKER_CHECK, timeoutSeconds: 30, batch: 4 };
  ranks: Record<string, number> = {};

  constructor(private readonly ws: GitWorkspace) {}

  workspace = () => this.ws;
  settings = () => this.settingsNow;
  mayRun = () => this.executing;
  stillMerging = (id: string) => this.merging.has(id);
  rank = (id: string) => this.ranks[id] ?? 1;
  emit = (event: NewEvent) => void this.events.push(event);
  landed = (id: string) => {
    this.merging.delete(id);
    this.landedIds.push(id);
  };
  conflicted = (id: string) => {
    this.merging.delete(id);
    this.conflicts.push(id);
  };
  rejected = (id: string, feedback: string, reason: string) => {
    this.merging.delete(id);
    this.rejections.set(id, { feedback, reason });
  };
  failed = (id: string, error: string) => {
    this.merging.delete(id);
    this.failures.push(`${id}: ${error}`);
  };
  broken = (message: string) => {
    this.executing = false;
    this.pauses.push(message);
  };
  changed = () => undefined;
  private readonly queue = new MergeQueue();
  inTurn = <T>(work: () => Promise<T>) => this.queue.enqueue(work);

  of<T extends NewEvent['type']>(type: T): Extract<NewEvent, { type: T }>[] {
    return this.events.filter((event): event is Extract<NewEvent, { type: T }> => event.type === type);
  }
}

function joinTrain(train: MergeTrain, host: RecordingHost, ids: string[]): void {
  for (const id of ids) host.merging.add(id);
  for (const id of ids) train.enqueue(id);
}

/** Whether the process runs (a zombie nobody reaps, here where PID 1 is no init, does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Runs `command` with sh in a fresh checkout of `commit`: what a person re-running the verify sees. */
async function verifiesAt(commit: string, command: string): Promise<boolean> {
  const path = join(dir, `check-${commit.slice(0, 12)}`);
  await git(['worktree', 'add', '--quiet', '--detach', path, commit], repo);
  try {
    execFileSync('sh', ['-c', command], { cwd: path, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    await git(['worktree', 'remove', '--force', path], repo);
  }
}

describe('MergeTrain (real git, real shell commands)', () => {
  it('lands only what passes: the culprit of a failing batch is found by halves and sent back with the output', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const host = new RecordingHost(ws);
    const train = new MergeTrain(host);
    await accepted(ws, 't1', { 'a.txt': 'fine\n' });
    await accepted(ws, 't2', { 'b.txt': 'fine\n' });
    await accepted(ws, 't3', { 'c.txt': 'this is BROKEN\n' });
    await accepted(ws, 't4', { 'd.txt': 'fine\n' });
    // Critical-path order: t4 goes first, then t3, t2, t1.
    host.ranks = { t1: 1, t2: 2, t3: 3, t4: 4 };
    joinTrain(train, host, ['t1', 't2', 't3', 't4']);
    await train.idle();

    expect(host.landedIds.sort()).toEqual(['t1', 't2', 't4']);
    expect([...host.rejections.keys()]).toEqual(['t3']);
    const { feedback, reason } = host.rejections.get('t3')!;
    expect(reason).toBe('exited 1');
    expect(feedback).toContain(MARKER_CHECK);
    expect(host.pauses).toEqual([]);

    // The head first, then the batch of four (fails), its halves [t4, t3] (fails) and [t2, t1], then t4
    // alone (passes) and t3 alone (fails).
    const verified = host.of('train.verified').map((e) => [e.taskIds.join('+'), e.passed]);
    expect(verified).toEqual([
      ['', true],
      ['t4+t3+t2+t1', false],
      ['t4+t3', false],
      ['t4', true],
      ['t3', false],
      ['t2+t1', true],
    ]);

    // orc/r1 moved only to commits that passed, and every commit on it passes when run again by hand.
    const landed = host.of('train.landed').map((e) => e.commit);
    expect(landed).toHaveLength(2);
    expect(await ws.head()).toBe(landed.at(-1));
    const history = (await gitLine(['rev-list', '--first-parent', `${start}..orc/r1`], repo)).split('\n');
    expect(history).toHaveLength(3);
    for (const commit of [...landed, ...history]) expect(await verifiesAt(commit, MARKER_CHECK)).toBe(true);
    expect(await verifiesAt('orc/r1-tasks/t3', MARKER_CHECK)).toBe(false);
    // One commit per task on the branch, none of t3.
    const tasks = await gitLine(
      ['log', '--format=%(trailers:key=Orc-Task,valueonly)', `${start}..orc/r1`],
      repo,
    );
    expect(tasks.split('\n').filter(Boolean).sort()).toEqual(['t1', 't2', 't4']);
  });

  it('tasks waiting together land with one verify, where one at a time takes one each', async () => {
    const verifies = async (batch: number, runId: string) => {
      const ws = await GitWorkspace.open(repo, runId, { home });
      const host = new RecordingHost(ws);
      host.settingsNow = { ...host.settingsNow, batch };
      const train = new MergeTrain(host);
      const ids = ['t1', 't2', 't3', 't4'];
      for (const id of ids) await accepted(ws, id, { [`${id}.txt`]: 'fine\n' });
      joinTrain(train, host, ids);
      await train.idle();
      expect(host.landedIds.sort()).toEqual(ids);
      return host.of('train.verified').length;
    };
    // The head, then the four together; or the head, then each alone.
    expect(await verifies(4, 'rb4')).toBe(2);
    expect(await verifies(1, 'rb1')).toBe(5);
  });

  it('a verify that runs past its timeout is killed with what it started, and fails the task', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const host = new RecordingHost(ws);
    const pidFile = join(dir, 'sleeper.pid');
    host.settingsNow = {
      // Sleeps only when the task's file is there: the head passes at once.
      command: `if [ -f slow.txt ]; then sleep 30 & echo $! > ${pidFile}; wait; fi`,
      timeoutSeconds: 1,
      batch: 1,
    };
    const train = new MergeTrain(host);
    await accepted(ws, 'slow', { 'slow.txt': 'x\n' });
    const started = Date.now();
    joinTrain(train, host, ['slow']);
    await train.idle();

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(host.rejections.get('slow')?.reason).toBe('timed out after 1 s');
    expect(host.rejections.get('slow')?.feedback).toContain('ran past its 1 s');
    const sleeper = Number(await readFile(pidFile, 'utf8'));
    expect(running(sleeper)).toBe(false);
    expect(await ws.head()).toBe(start);
    expect(host.of('train.verified').at(-1)).toMatchObject({ passed: false, timedOut: true, exitCode: null });
  });

  it('a cancelled run stops the verify under way at once, and nothing of it lands', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const host = new RecordingHost(ws);
    const pidFile = join(dir, 'sleeper.pid');
    host.settingsNow = {
      command: `if [ -f t1.txt ]; then sleep 30 & echo $! > ${pidFile}; wait; fi`,
      timeoutSeconds: 60,
      batch: 4,
    };
    const train = new MergeTrain(host);
    await accepted(ws, 't1', { 't1.txt': 'x\n' });
    joinTrain(train, host, ['t1']);
    while (!existsSync(pidFile) || (await readFile(pidFile, 'utf8')) === '')
      await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    host.merging.delete('t1');
    train.interrupt();
    await train.idle();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(running(Number(await readFile(pidFile, 'utf8')))).toBe(false);
    expect(host.landedIds).toEqual([]);
    expect(await ws.head()).toBe(start);
  });

  it('a verify that cannot run pauses the run, sends nothing back, and goes on once it is fixed', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const host = new RecordingHost(ws);
    host.settingsNow = { command: 'nonexistent-command --check', timeoutSeconds: 30, batch: 4 };
    const train = new MergeTrain(host);
    await accepted(ws, 't1', { 'a.txt': 'fine\n' });
    joinTrain(train, host, ['t1']);
    await train.idle();

    expect(host.pauses).toHaveLength(1);
    expect(host.pauses[0]).toMatch(
      /^integration\.verify cannot run \(exited 127: .*nonexistent-command.*not found\)/,
    );
    expect(host.pauses[0]).toContain('orc resume r1');
    expect(host.rejections.size).toBe(0);
    expect(host.merging.has('t1')).toBe(true);
    expect(await ws.head()).toBe(start);

    // A person fixes the command and resumes: the waiting task lands.
    host.settingsNow = { ...host.settingsNow, command: MARKER_CHECK };
    host.executing = true;
    train.kick();
    await train.idle();
    expect(host.landedIds).toEqual(['t1']);
    expect(await ws.head()).not.toBe(start);
  });

  it('a head that fails before any merge pauses the run instead of sending the tasks back', async () => {
    await writeFile(join(repo, 'old.txt'), 'BROKEN already\n');
    await git(['add', '-A'], repo);
    await git(['commit', '--quiet', '-m', 'a broken start'], repo);
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const host = new RecordingHost(ws);
    const train = new MergeTrain(host);
    await accepted(ws, 't1', { 'a.txt': 'fine\n' });
    joinTrain(train, host, ['t1']);
    await train.idle();

    expect(host.pauses).toEqual([
      'integration.verify fails on orc/r1 before any merge (exited 1); fix the command or the branch, then orc resume r1',
    ]);
    expect(host.rejections.size).toBe(0);
    expect(host.merging.has('t1')).toBe(true);
    expect(host.of('train.verified')).toMatchObject([{ taskIds: [], passed: false }]);
  });

  it('verifies in a worktree under the state directory that the run finishing removes, keeping nothing of it', async () => {
    const ws = await GitWorkspace.open(repo, 'r1', { home });
    const host = new RecordingHost(ws);
    host.settingsNow = {
      command: `${MARKER_CHECK} && echo built > build-output.txt`,
      timeoutSeconds: 30,
      batch: 4,
    };
    const train = new MergeTrain(host);
    await accepted(ws, 't1', { 'a.txt': 'fine\n' });
    joinTrain(train, host, ['t1']);
    await train.idle();
    expect(host.landedIds).toEqual(['t1']);
    expect(ws.trainPath.startsWith(join(home, 'worktrees'))).toBe(true);
    expect(existsSync(join(ws.trainPath, 'build-output.txt'))).toBe(true);

    await ws.finish({ merge: false });
    expect((await listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
    const branches = await gitLine(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'], repo);
    expect(branches).not.toMatch(/detached/);
  });
});
