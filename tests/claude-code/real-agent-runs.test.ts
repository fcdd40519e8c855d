import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClaudeSandbox,
  alive,
  extraWorktrees,
  filesAt,
  taskStates,
  userState,
  waitUntil,
} from './claude-sandbox.js';

let sb: ClaudeSandbox | undefined;

afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

describe('runs with the real Claude Code as manager and workers (built CLI, real daemon)', () => {
  it('a goal in a git repository: the Claude Code manager plans 3 tasks, their 3 files are merged into orc/<run>', async () => {
    sb = await ClaudeSandbox.create();
    const repo = await sb.repo();
    const before = await userState(repo);
    const cwd = await sb.runFolder(undefined, { manager: 'claude-code' });
    // The stand-in model plans one task per TASK line of the goal (through Claude Code's structured output).
    const goal = [
      'Write the three notes.',
      'TASK alpha: WRITE notes/alpha.txt: first\\n',
      'TASK beta: WRITE notes/beta.txt: second\\n',
      'TASK gamma after alpha,beta: WRITE notes/gamma.txt: third\\n',
    ].join('\n');

    const result = await sb.orc(['run', goal, '--workdir', repo, '--json'], cwd, 90_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.status).toBe('completed');
    expect(summary.models.manager.provider).toBe('claude-code');
    const run = await sb.view(summary.id);
    expect(taskStates(run)).toEqual({ alpha: 'done', beta: 'done', gamma: 'done' });
    expect(run.tasks.find((t) => t.id === 'gamma')!.dependencies).toEqual(['alpha', 'beta']);
    // Every call went to the stand-in through Claude Code: a plan, the work, a review per task, a verdict.
    const kinds = sb.standIn.requests.map((r) => r.kind);
    expect(kinds.filter((k) => k === 'plan')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'review')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'final-review')).toHaveLength(1);
    expect(run.finalReview).toEqual({ verdict: 'success', summary: 'Every task was done.', followUps: [] });
    // Claude Code's sessions and costs are on the attempts.
    for (const task of run.tasks) {
      expect(task.attempts).toHaveLength(1);
      expect(task.attempts[0]!.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(task.attempts[0]!.costUsd).toBeGreaterThan(0);
    }

    expect(await filesAt(repo, `orc/${summary.id}`)).toEqual({
      'README.md': '# project\n',
      'notes/alpha.txt': 'first\n',
      'notes/beta.txt': 'second\n',
      'notes/gamma.txt': 'third\n',
    });
    // Nothing is left behind: no worktree, no folder in the state directory, the user's side untouched.
    expect(await extraWorktrees(repo)).toEqual([]);
    expect(sb.runWorktrees(summary.id)).toBeUndefined();
    expect(await userState(repo)).toEqual(before);
  });

  it('a tool claude_cli.permissions denies is refused without asking, and the refusal shows in the task’s attempt', async () => {
    sb = await ClaudeSandbox.create();
    const repo = await sb.repo();
    const cwd = await sb.runFolder(
      [
        {
          id: 'fetch',
          lines: ['BASH curl -s https://example.invalid/data.json', 'WRITE data.txt: made without it\\n'],
        },
      ],
      { claude: { permissions: { Bash: 'deny' } } },
    );

    const result = await sb.run(cwd, repo);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    const shown = await sb.show(summary.id);
    const attempt = shown.tasks[0]!.attempts[0]!;
    expect(attempt.refusals).toEqual([
      expect.objectContaining({ tool: 'Bash', subject: 'curl -s https://example.invalid/data.json' }),
    ]);
    expect(attempt.refusals![0]!.reason).toBe('claude_cli.permissions denies Bash');
    // Nobody was asked.
    expect((await (await sb.client()).trpc.inbox.list.query({ all: true })).items).toEqual([]);
    const human = await sb.orc(['show', summary.id]);
    expect(human.stdout).toContain(
      'attempt 1 was refused Bash curl -s https://example.invalid/data.json: claude_cli.permissions denies Bash',
    );
    const log = await sb.orc(['logs', summary.id]);
    expect(log.stdout).toMatch(
      /task\.tool_refused\s+fetch attempt 1: Bash curl -s https:\/\/example\.invalid/,
    );
    // The agent went on without it.
    expect(await filesAt(repo, `orc/${summary.id}`)).toMatchObject({ 'data.txt': 'made without it\n' });
  });

  it('a usage limit pauses the run with quota and its reset time; it resumes by itself then, after a daemon restart too', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const cwd = await box.runFolder(
      [
        {
          id: 'limited',
          lines: ['WRITE first.txt: before the limit\\n', 'LIMIT 8', 'WRITE second.txt: after it\\n'],
        },
        { id: 'free', lines: ['WRITE free.txt: no limit here\\n'] },
      ],
      { subscription: true, workers: 1 },
    );
    const runId = await box.detach(cwd, repo);
    const paused = await box.waitForRun(runId, (r) => r.status === 'paused', 60_000);
    expect(paused.pauseReason).toBe('quota');
    const resumeAt = Date.parse(paused.resumeAt!);
    expect(resumeAt).toBeGreaterThan(Date.now());
    expect(resumeAt).toBeLessThan(Date.now() + 12_000);
    const limited = paused.tasks.find((t) => t.id === 'limited')!;
    // Not failed, not retried into the wall: back in the queue, the attempt cut off with its session.
    expect(limited.status).toBe('ready');
    expect(limited.attempts).toHaveLength(1);
    expect(limited.attempts[0]).toMatchObject({ outcome: 'interrupted' });
    expect(limited.attempts[0]!.error?.message).toMatch(/usage limit/);
    const limitAnswers = (): number => box.standIn.requests.filter((r) => r.answer === 'limit').length;
    const answered = limitAnswers();

    // The daemon dies while the run waits (once the pause is saved): only the restored run's own timer can
    // resume it, and it waits for what is left of the same time.
    const saved = join(box.home, 'runs', runId, 'state.json');
    const savedResumeAt = (): unknown =>
      (JSON.parse(readFileSync(saved, 'utf8')) as { resumeAt?: unknown }).resumeAt;
    await waitUntil('the pause is saved', () => savedResumeAt() === paused.resumeAt);
    const daemon = (await box.box.daemonPid())!;
    expect(Date.now()).toBeLessThan(resumeAt);
    process.kill(daemon, 'SIGKILL');
    await waitUntil('the daemon is gone', () => !alive(daemon));
    box.forgetClient();
    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code, started.stderr).toBe(0);
    box.box.pids.add((JSON.parse(started.stdout) as { pid: number }).pid);
    if (Date.now() < resumeAt - 1_000) expect((await box.view(runId)).status).toBe('paused');

    const run = await box.waitForRun(runId, (r) => r.status === 'completed', 60_000);
    const resumed = run.tasks.find((t) => t.id === 'limited')!;
    expect(Date.parse(resumed.attempts[1]!.startedAt)).toBeGreaterThanOrEqual(resumeAt - 1_000);
    // The second attempt went on with the first one's session: the first Write was not done again.
    expect(resumed.attempts.map((a) => [a.outcome, a.resumes])).toEqual([
      ['interrupted', undefined],
      ['succeeded', 1],
    ]);
    expect(resumed.attempts[1]!.sessionId).toBe(resumed.attempts[0]!.sessionId);
    // Nobody called into the limit while the run waited.
    expect(limitAnswers()).toBe(answered);
    expect(await filesAt(repo, `orc/${runId}`)).toMatchObject({
      'first.txt': 'before the limit\n',
      'second.txt': 'after it\n',
      'free.txt': 'no limit here\n',
    });
  }, 90_000);
});
