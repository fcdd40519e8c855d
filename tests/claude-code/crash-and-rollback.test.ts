import { existsSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointInfo, RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClaudeSandbox,
  alive,
  extraWorktrees,
  filesAt,
  git,
  taskStates,
  userState,
  waitUntil,
} from './claude-sandbox.js';

let sb: ClaudeSandbox | undefined;

// Each test starts a daemon (twice in two of them), real Claude Code agents and about ten orc commands:
// at load 14 on the shared 2-core machine they took 34 s, 66 s and 34 s (20 s, 47 s and 24 s once orc
// commands no longer loaded the engine), past the 30 s default. The waits inside poll for the state
// they need, each with its own bound.
vi.setConfig({ testTimeout: 180_000 });

afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

describe('Claude Code workers: a killed daemon, checkpoints and rollbacks (built CLI, real daemon, real Claude Code)', () => {
  it('kill -9 mid-attempt: the orphaned agent is stopped and the attempt resumes its session in its worktree', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const before = await userState(repo);
    const gate = 'slow-gate';
    const cwd = await box.runFolder([
      {
        id: 'slow',
        lines: ['WRITE partial.txt: half done\\n', `HANG ${gate}`, 'WRITE final.txt: all done\\n'],
      },
    ]);
    const runId = await box.detach(cwd, repo);
    await waitUntil('the agent waits at the gate', () => box.standIn.waiting(gate) === 1, 30_000);
    const worktree = box.worktree(runId, 'slow', 1)!;
    expect(existsSync(join(worktree, 'partial.txt'))).toBe(true);
    const session = (await box.view(runId)).tasks[0]!.attempts[0]!.sessionId;
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    const orphan = box.agentPid(worktree)!;
    const daemon = (await box.box.daemonPid())!;
    const beforeCrash = box.standIn.requests.length;

    // Only the daemon dies: its agent runs on in a process group of its own, waiting for its answer.
    process.kill(daemon, 'SIGKILL');
    await waitUntil('the daemon is gone', () => !alive(daemon));
    box.forgetClient();
    expect(alive(orphan)).toBe(true);

    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code, started.stderr).toBe(0);
    box.box.pids.add((JSON.parse(started.stdout) as { pid: number }).pid);
    // The restored run goes on with the session in the same worktree; the orphan was stopped first.
    await waitUntil('the resumed session waits at the gate', () => box.standIn.waiting(gate) === 1, 30_000);
    expect(alive(orphan), 'the agent orphaned by the killed daemon still runs after the restart').toBe(false);
    box.standIn.open(gate);
    const run = await box.waitForRun(runId, (r) => r.status === 'completed', 60_000);

    const task = run.tasks.find((t) => t.id === 'slow')!;
    expect(task.attempts.map((a) => [a.n, a.outcome, a.sessionId, a.resumes])).toEqual([
      [1, 'interrupted', session, undefined],
      [2, 'succeeded', session, 1],
    ]);
    // After the crash the stand-in was asked for the turn that was in flight, then the next: the turn
    // answered before the crash (the first Write) was not asked for again.
    const resumed = box.standIn.requests.slice(beforeCrash).filter((r) => r.kind === 'work');
    expect(resumed.map((r) => [r.session, r.step, r.answer])).toEqual([
      [session, 1, 'Write'],
      [session, 2, 'end_turn'],
    ]);
    const spentBefore = box.standIn.requests.slice(0, beforeCrash).filter((r) => r.kind === 'work');
    const reAsked = resumed.filter((r) => spentBefore.some((b) => b.step === r.step && b.answer !== 'held'));
    expect(reAsked).toEqual([]);
    console.log(
      `tokens re-spent after the crash: ${resumed[0]!.inputTokens} input (the turn in flight, sent again), ` +
        `0 output; a fresh start would have re-sent ${spentBefore[0]!.inputTokens} input and ` +
        `${spentBefore[0]!.outputTokens} output tokens of the turn already done`,
    );
    expect(await filesAt(repo, `orc/${runId}`)).toEqual({
      'README.md': '# project\n',
      'partial.txt': 'half done\n',
      'final.txt': 'all done\n',
    });
    expect(await extraWorktrees(repo)).toEqual([]);
    expect(box.runWorktrees(runId)).toBeUndefined();
    expect(await userState(repo)).toEqual(before);
  });

  it('checkpoint, more merges, rollback full restores the checkpoint’s files; selective reverts a task and its downstream', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const before = await userState(repo);
    const gate = 'c-gate';
    const cwd = await box.runFolder([
      { id: 'a', lines: ['WRITE a.txt: from a\\n'] },
      { id: 'b', lines: ['WRITE b.txt: from b\\n'] },
      { id: 'c', lines: [`HANG ${gate}`, 'WRITE c.txt: from c\\n'], dependencies: ['a'] },
      { id: 'd', lines: ['APPEND a.txt: d was here\\n', 'WRITE d.txt: from d\\n'], dependencies: ['c'] },
    ]);
    const runId = await box.detach(cwd, repo);
    const branch = `orc/${runId}`;
    await box.waitForRun(
      runId,
      (r) =>
        taskStates(r)['a'] === 'done' && taskStates(r)['b'] === 'done' && taskStates(r)['c'] === 'running',
      60_000,
    );

    const made = await box.orc(['checkpoint', runId, '--label', 'a and b', '--json']);
    expect(made.code).toBe(0);
    const checkpoint = JSON.parse(made.stdout) as CheckpointInfo;
    expect(checkpoint).toMatchObject({ label: 'a and b', tasksDone: 2, files: { branch } });
    const atCheckpoint = await filesAt(repo, checkpoint.files!.commit);
    expect(atCheckpoint).toEqual({ 'README.md': '# project\n', 'a.txt': 'from a\n', 'b.txt': 'from b\n' });
    expect(checkpoint.files!.commit).toBe(await git(repo, 'rev-parse', branch));

    // More work lands after the checkpoint.
    box.standIn.open(gate);
    await box.waitForRun(runId, (r) => r.status === 'completed');
    // orc show <run> <task> prints what the task changed: its commit on the integration branch.
    const shown = await box.orc(['show', runId, 'd']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^diff \\(commit [0-9a-f]{12} on ${branch}\\):$`, 'm'));
    expect(shown.stdout).toContain('+d was here');
    expect(shown.stdout).toContain('+from d');
    expect(shown.stdout).not.toContain('+from c');
    expect(await filesAt(repo, branch)).toEqual({
      ...atCheckpoint,
      'a.txt': 'from a\nd was here\n',
      'c.txt': 'from c\n',
      'd.txt': 'from d\n',
    });

    const full = await box.orc(['rollback', runId, checkpoint.id, '--strategy', 'full', '--json']);
    expect(full.stderr).toBe('');
    expect((JSON.parse(full.stdout) as RunSummary).status).toBe('paused');
    expect(await filesAt(repo, branch)).toEqual(atCheckpoint);
    expect(await git(repo, 'rev-parse', branch)).toBe(checkpoint.files!.commit);
    let run = await box.view(runId);
    expect(taskStates(run)).toMatchObject({ a: 'done', b: 'done' });
    expect(taskStates(run)['c']).not.toBe('done');
    expect(taskStates(run)['d']).not.toBe('done');

    // Resumed, the rolled-back tasks run again on top of the checkpoint.
    const resumed = await box.orc(['resume', runId]);
    expect(resumed.code).toBe(0);
    await box.waitForRun(runId, (r) => r.status === 'completed');
    const redone = await filesAt(repo, branch);
    expect(redone).toEqual({
      ...atCheckpoint,
      'a.txt': 'from a\nd was here\n',
      'c.txt': 'from c\n',
      'd.txt': 'from d\n',
    });

    // Selective on a: a, c (needs a) and d (needs c) are reverted; b stays.
    const selective = await box.orc([
      'rollback',
      runId,
      checkpoint.id,
      '--strategy',
      'selective',
      '--tasks',
      'a',
      '--json',
    ]);
    expect(selective.stderr).toBe('');
    expect(selective.code).toBe(0);
    expect(await filesAt(repo, branch)).toEqual({ 'README.md': '# project\n', 'b.txt': 'from b\n' });
    const reverts = (await git(repo, 'log', '--format=%s', `${checkpoint.files!.commit}..${branch}`))
      .split('\n')
      .filter((subject) => subject.startsWith('Revert'));
    expect(reverts).toHaveLength(3);
    run = await box.view(runId);
    expect(taskStates(run)['b']).toBe('done');
    for (const id of ['a', 'c', 'd']) expect(taskStates(run)[id]).not.toBe('done');

    expect(await userState(repo)).toEqual(before);
    expect(await extraWorktrees(repo)).toEqual([]);
  });

  it('a run that failed before a daemon restart takes a retry: its repository is opened again', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    // A committed link to a file outside the repository; the stand-in fails the task while it is missing.
    const source = join(box.home, 'source.txt');
    await symlink(source, join(repo, 'link.txt'));
    await git(repo, 'add', 'link.txt');
    await git(repo, 'commit', '--quiet', '-m', 'a link');
    const mainBefore = await git(repo, 'rev-parse', 'main');
    // Claude Code asks before reading through a link out of its worktree; nobody answers here, so it is
    // refused at once (the stand-in writes the content it knows) instead of waiting on the inbox.
    const cwd = await box.runFolder(
      [
        { id: 'ok', lines: ['WRITE ok.txt: fine\\n'] },
        { id: 'needs', lines: [`FAIL_UNLESS ${source}`, 'COPY link.txt copied.txt'] },
      ],
      { claude: { permissions: { Read: 'deny' } } },
    );
    const first = await box.run(cwd, repo);
    const runId = (JSON.parse(first.stdout) as RunSummary).id;
    expect((JSON.parse(first.stdout) as RunSummary).status).toBe('failed');

    const stopped = await box.orc(['daemon', 'stop']);
    expect(stopped.code, stopped.stderr).toBe(0);
    box.forgetClient();
    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code, started.stderr).toBe(0);
    box.box.pids.add((JSON.parse(started.stdout) as { pid: number }).pid);

    await writeFile(source, 'provided\n');
    const retried = await box.orc(['retry', runId, 'needs']);

    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    const run = await box.waitForRun(runId, (r) => r.status === 'completed');
    expect(taskStates(run)).toEqual({ ok: 'done', needs: 'done' });
    expect(await filesAt(repo, `orc/${runId}`)).toMatchObject({
      'ok.txt': 'fine\n',
      'copied.txt': 'provided\n',
    });
    expect(await git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    expect(await extraWorktrees(repo)).toEqual([]);
  });
});
