import { existsSync, readFileSync } from 'node:fs';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointInfo, RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClaudeSandbox,
  alive,
  extraWorktrees,
  filesAt,
  git,
  killGroup,
  orcBranchNames,
  taskStates,
  userState,
  waitUntil,
} from './claude-sandbox.js';

let sb: ClaudeSandbox | undefined;

afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

describe('Claude Code workers: a killed daemon, checkpoints and rollbacks (built CLI, real daemon)', () => {
  it('kill -9 mid-task: on restart the partial work is kept on the attempt branch and the task runs again', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const before = await userState(repo);
    const gate = join(box.home, 'gate');
    const pidFile = join(box.home, 'agent.pid');
    const cwd = await box.runFolder(
      [
        {
          id: 'slow',
          lines: ['WRITE partial.txt: half done\\n', `WAIT_FOR ${gate}`, 'WRITE final.txt: all done\\n'],
        },
      ],
      { environment: { FAKE_CLAUDE_PID_FILE: pidFile } },
    );
    const runId = await box.detach(cwd, repo);
    const worktree = join(repo, '.git', 'orc-worktrees', runId, 'slow', 'attempt-1');
    await waitUntil('the agent wrote its partial file', () => existsSync(join(worktree, 'partial.txt')));
    await waitUntil('the agent waits at the gate', () => existsSync(pidFile));
    const agent = Number(await readFile(pidFile, 'utf8'));
    box.agentPids.add(agent);
    const daemon = (await box.box.daemonPid())!;

    process.kill(daemon, 'SIGKILL');
    // The agent runs in a process group of its own and outlives a killed daemon; the crash takes it too.
    killGroup(agent);
    await waitUntil('the daemon and the agent are gone', () => !alive(daemon) && !alive(agent));
    box.forgetClient();
    expect(existsSync(worktree)).toBe(true);

    // The gate is open for the second attempt; a new daemon restores the run and goes on by itself.
    await writeFile(gate, '');
    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code).toBe(0);
    box.box.pids.add((JSON.parse(started.stdout) as { pid: number }).pid);
    const run = await box.waitForRun(runId, (r) => r.status === 'completed');

    const task = run.tasks.find((t) => t.id === 'slow')!;
    expect(task.status).toBe('done');
    expect(task.attempts.at(-1)!.outcome).toBe('succeeded');
    expect(task.attempts.length).toBeGreaterThanOrEqual(2);
    // What the killed attempt left is on its attempt branch, on top of the start commit.
    const kept = `orc/${runId}-attempts/slow/1`;
    expect(await orcBranchNames(repo)).toContain(kept);
    expect(await filesAt(repo, kept)).toEqual({ 'README.md': '# project\n', 'partial.txt': 'half done\n' });
    expect(await git(repo, 'rev-parse', `${kept}~1`)).toBe(before.head);
    // Its worktree is gone; the re-run finished the task on the integration branch.
    expect(existsSync(worktree)).toBe(false);
    expect(await extraWorktrees(repo)).toEqual([]);
    expect(await filesAt(repo, `orc/${runId}`)).toEqual({
      'README.md': '# project\n',
      'partial.txt': 'half done\n',
      'final.txt': 'all done\n',
    });
    expect(await userState(repo)).toEqual(before);
  });

  it('kill -9 of the daemon alone: the agent it orphaned is stopped before its worktree is recovered', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const gate = join(box.home, 'gate');
    const pidFile = join(box.home, 'agent.pid');
    const cwd = await box.runFolder(
      [
        {
          id: 'slow',
          lines: ['WRITE partial.txt: half done\\n', `WAIT_FOR ${gate}`, 'WRITE final.txt: all done\\n'],
        },
      ],
      { environment: { FAKE_CLAUDE_PID_FILE: pidFile } },
    );
    const runId = await box.detach(cwd, repo);
    const attempts = join(repo, '.git', 'orc-worktrees', runId, 'slow');
    await waitUntil('the agent waits at the gate', () => existsSync(pidFile));
    const orphan = Number(await readFile(pidFile, 'utf8'));
    box.agentPids.add(orphan);
    const daemon = (await box.box.daemonPid())!;

    // Only the daemon dies, as in a crash of the daemon alone: its agent runs on in its own process group.
    process.kill(daemon, 'SIGKILL');
    await waitUntil('the daemon is gone', () => !alive(daemon));
    box.forgetClient();
    expect(alive(orphan)).toBe(true);

    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code).toBe(0);
    box.box.pids.add((JSON.parse(started.stdout) as { pid: number }).pid);
    // The restored run prepared a new attempt, whose agent now waits at the gate in its place.
    await waitUntil('the second attempt waits at the gate', () => existsSync(join(attempts, 'attempt-2')));
    await waitUntil('the new agent wrote its pid', () => Number(readFileSync(pidFile, 'utf8')) !== orphan);
    box.agentPids.add(Number(readFileSync(pidFile, 'utf8')));

    // Left running, the orphan would go on editing (and spending) after its worktree was removed.
    expect(alive(orphan), 'the agent orphaned by the killed daemon still runs after the restart').toBe(false);
    await writeFile(gate, '');
    await box.waitForRun(runId, (r) => r.status === 'completed');
    expect(existsSync(join(attempts, 'attempt-1'))).toBe(false);
    expect(await filesAt(repo, `orc/${runId}`)).toEqual({
      'README.md': '# project\n',
      'partial.txt': 'half done\n',
      'final.txt': 'all done\n',
    });
  });

  it('checkpoint, more merges, rollback full restores the checkpoint’s files; selective reverts a task and its downstream', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const before = await userState(repo);
    const gate = join(box.home, 'gate');
    const cwd = await box.runFolder([
      { id: 'a', lines: ['WRITE a.txt: from a\\n'] },
      { id: 'b', lines: ['WRITE b.txt: from b\\n'] },
      { id: 'c', lines: [`WAIT_FOR ${gate}`, 'WRITE c.txt: from c\\n'], dependencies: ['a'] },
      { id: 'd', lines: ['APPEND a.txt: d was here\\n', 'WRITE d.txt: from d\\n'], dependencies: ['c'] },
    ]);
    const runId = await box.detach(cwd, repo);
    const branch = `orc/${runId}`;
    await box.waitForRun(
      runId,
      (r) =>
        taskStates(r)['a'] === 'done' && taskStates(r)['b'] === 'done' && taskStates(r)['c'] === 'running',
    );

    const made = await box.orc(['checkpoint', runId, '--label', 'a and b', '--json']);
    expect(made.code).toBe(0);
    const checkpoint = JSON.parse(made.stdout) as CheckpointInfo;
    expect(checkpoint).toMatchObject({ label: 'a and b', tasksDone: 2, files: { branch } });
    const atCheckpoint = await filesAt(repo, checkpoint.files!.commit);
    expect(atCheckpoint).toEqual({ 'README.md': '# project\n', 'a.txt': 'from a\n', 'b.txt': 'from b\n' });
    expect(checkpoint.files!.commit).toBe(await git(repo, 'rev-parse', branch));

    // More work lands after the checkpoint.
    await writeFile(gate, '');
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
    // A committed link to a file outside the repository: copying it fails until the test provides it.
    const source = join(box.home, 'source.txt');
    await symlink(source, join(repo, 'link.txt'));
    await git(repo, 'add', 'link.txt');
    await git(repo, 'commit', '--quiet', '-m', 'a link');
    const mainBefore = await git(repo, 'rev-parse', 'main');
    const cwd = await box.runFolder([
      { id: 'ok', lines: ['WRITE ok.txt: fine\\n'] },
      { id: 'needs', lines: ['COPY link.txt copied.txt'] },
    ]);
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
