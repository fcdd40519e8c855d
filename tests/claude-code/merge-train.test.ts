import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunSummary } from '@orc/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../daemon/harness.js';
import { TmuxPane } from '../tui/tmux.js';
import { ClaudeSandbox, extraWorktrees, filesAt, git, taskStates, userState } from './claude-sandbox.js';

let sb: ClaudeSandbox;

beforeAll(async () => {
  sb = await ClaudeSandbox.create();
});

afterAll(async () => {
  await sb.cleanup();
});

/** The project's "test suite": it fails when any tracked file holds the marker. */
const MARKER_CHECK = '! git grep -q BROKEN -- .';

/** Whether `command` passes in a fresh checkout of `commit`, as a person re-running it would see. */
async function passesAt(repo: string, commit: string, command: string): Promise<boolean> {
  const path = join(await sb.folder('check'), 'tree');
  await git(repo, 'worktree', 'add', '--quiet', '--detach', path, commit);
  try {
    execFileSync('sh', ['-c', command], { cwd: path, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    await git(repo, 'worktree', 'remove', '--force', path);
  }
}

describe('the merge train (built CLI, real daemon, the real Claude Code, real git and sh)', () => {
  it('lands only verified work; a change that breaks the check goes back with the output, then fails', async () => {
    const repo = await sb.repo({ 'README.md': '# project\n' });
    const before = await userState(repo);
    const gate = join(await sb.folder('gate'), 'open');
    // Each verify waits for the gate, so the test can see the train at work.
    const verify = `while [ ! -f ${gate} ]; do sleep 0.05; done; ${MARKER_CHECK}`;
    const cwd = await sb.runFolder(
      [
        { id: 'good1', lines: ['WRITE src/good1.txt: fine\\n'] },
        { id: 'bad', lines: ['WRITE src/bad.txt: this is BROKEN\\n'] },
        { id: 'good2', lines: ['WRITE src/good2.txt: fine\\n'] },
      ],
      { workers: 3, maxReworks: 1, integration: { verify, verify_timeout: 60 } },
    );
    const runId = await sb.detach(cwd, repo);

    // All three accepted, the head being verified before anything lands: orc show says so.
    await sb.waitForRun(runId, (run) => run.tasks.every((t) => t.status === 'merging'));
    const shown = await sb.orc(['show', runId]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /^train: verifying the integration head at [0-9a-f]{12} \((<0\.1s|0\.\ds|\d+s)\) · waiting (bad|good1|good2), (bad|good1|good2), (bad|good1|good2)$/m,
    );
    const json = await sb.show(runId);
    expect(json.train?.verifying).toMatchObject({ taskIds: [], commit: before.head });
    // The terminal UI's header says the same, live.
    expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
    const pane = new TmuxPane(`node ${CLI} attach ${runId}`, {
      cwd: sb.home,
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: sb.home },
    });
    try {
      const screen = await pane.waitFor(
        (s) => /^train: verifying/m.test(s),
        'the train in the header',
        20_000,
      );
      expect(screen).toMatch(
        /^train: verifying the integration head at [0-9a-f]{12} \((<0\.1s|0\.\ds|\d+s)\) · waiting /m,
      );
      pane.keys('q');
      await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    } finally {
      pane.kill();
    }

    await writeFile(gate, '');
    const run = await sb.waitForRun(runId, (r) => r.status === 'failed', 60_000);
    expect(taskStates(run)).toEqual({ good1: 'done', bad: 'failed', good2: 'done' });
    const bad = run.tasks.find((t) => t.id === 'bad')!;
    expect(bad.reworks).toBe(1);
    expect(bad.error).toBe('integration.verify still fails after 1 rework: exited 1');
    expect(bad.attempts).toHaveLength(2);

    const log = await sb.events(runId);
    // The rework's feedback was the command and its verdict.
    expect(log).toContainEqual(
      expect.objectContaining({
        type: 'task.status',
        taskId: 'bad',
        status: 'ready',
        reason: 'integration.verify exited 1',
      }),
    );
    // Every commit orc/<run> moved to passed, and so does every commit on it when run again by hand.
    const branch = `orc/${runId}`;
    const landed = log.flatMap((e) => (e.type === 'train.landed' ? [e.commit] : []));
    expect(landed.length).toBeGreaterThan(0);
    expect(landed.at(-1)).toBe(await git(repo, 'rev-parse', branch));
    const history = (await git(repo, 'rev-list', '--first-parent', `${before.head}..${branch}`)).split('\n');
    expect(history).toHaveLength(2);
    for (const commit of new Set([...landed, ...history]))
      expect(await passesAt(repo, commit, MARKER_CHECK)).toBe(true);
    expect(await filesAt(repo, branch)).toEqual({
      'README.md': '# project\n',
      'src/good1.txt': 'fine\n',
      'src/good2.txt': 'fine\n',
    });
    expect(log.some((e) => e.type === 'train.verified' && !e.passed && e.taskIds.includes('bad'))).toBe(true);

    const shownAfter = await sb.orc(['show', runId]);
    expect(shownAfter.stdout).toMatch(/^train: last: /m);
    expect(await userState(repo)).toEqual(before);
    expect(await extraWorktrees(repo)).toEqual([]);
  });

  it('a verify that cannot run pauses the run with the reason instead of sending work back', async () => {
    const repo = await sb.repo({ 'README.md': '# project\n' });
    const before = await userState(repo);
    const cwd = await sb.runFolder([{ id: 't1', lines: ['WRITE t1.txt: fine\\n'] }], {
      workers: 1,
      integration: { verify: 'nonexistent-command --all' },
    });

    const result = await sb.run(cwd, repo);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary).toMatchObject({ status: 'paused', pauseReason: 'verify' });
    const run = await sb.view(summary.id);
    expect(taskStates(run)).toEqual({ t1: 'merging' });
    expect(run.tasks[0]!.reworks).toBe(0);
    expect(await git(repo, 'rev-parse', `orc/${summary.id}`)).toBe(before.head);

    const log = await sb.events(summary.id);
    const paused = log.find((e) => e.type === 'run.paused');
    expect(paused).toMatchObject({ reason: 'verify' });
    expect(paused?.type === 'run.paused' && paused.message).toMatch(
      /^integration\.verify cannot run \(exited 127: .*nonexistent-command.*not found\); fix the command/,
    );
    const shown = await sb.orc(['show', summary.id]);
    expect(shown.stdout).toMatch(/^run \S+ paused \(verify\)/m);
    expect(shown.stdout).toMatch(/^train: waiting t1 · last: integration head failed \(exited 127: /m);

    expect((await sb.orc(['cancel', summary.id])).code).toBe(0);
  });

  it('a run paused because its verify cannot run goes on once a person fixes the branch and resumes', async () => {
    const repo = await sb.repo({ 'README.md': '# project\n' });
    const before = await userState(repo);
    const cwd = await sb.runFolder([{ id: 't1', lines: ['WRITE t1.txt: fine\\n'] }], {
      workers: 1,
      integration: { verify: './check-tool' },
    });
    const runId = await sb.detach(cwd, repo);
    await sb.waitForRun(runId, (r) => r.status === 'paused');
    expect((await sb.view(runId)).pauseReason).toBe('verify');

    // The person adds the missing tool to the run's branch, as a commit of their own, then resumes.
    const branch = `orc/${runId}`;
    const fix = join(await sb.folder('fix'), 'tree');
    await git(repo, 'worktree', 'add', '--quiet', fix, branch);
    await writeFile(join(fix, 'check-tool'), '#!/bin/sh\ntest -f README.md\n', { mode: 0o755 });
    await git(fix, 'add', 'check-tool');
    await git(fix, 'commit', '--quiet', '-m', 'add the check tool');
    const fixed = await git(fix, 'rev-parse', 'HEAD');
    await git(repo, 'worktree', 'remove', fix);
    expect((await sb.orc(['resume', runId])).code).toBe(0);

    const run = await sb.waitForRun(runId, (r) => r.status === 'completed', 40_000);
    expect(taskStates(run)).toEqual({ t1: 'done' });
    expect(run.tasks[0]!.reworks).toBe(0);
    const log = await sb.events(runId);
    // The fixed head was verified before t1 landed on it.
    const verdicts = log.flatMap((e) =>
      e.type === 'train.verified' ? [[e.taskIds.join(','), e.passed]] : [],
    );
    expect(verdicts).toEqual([
      ['', false],
      ['', true],
      ['t1', true],
    ]);
    expect(await git(repo, 'rev-parse', `${branch}~1`)).toBe(fixed);
    expect(await filesAt(repo, branch)).toMatchObject({ 't1.txt': 'fine\n' });
    expect(await userState(repo)).toEqual(before);
  }, 120_000);
});
