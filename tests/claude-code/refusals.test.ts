import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunSummary } from '@orc/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClaudeSandbox,
  extraWorktrees,
  git,
  orcBranchNames,
  userState,
  workingFiles,
  type RunConfig,
} from './claude-sandbox.js';
import { BROKEN_CLAUDE } from '../support/real-claude.js';

// One daemon for every case; each case has its own repository and run folder.
let sb: ClaudeSandbox;

beforeAll(async () => {
  sb = await ClaudeSandbox.create();
});

afterAll(async () => {
  await sb.cleanup();
});

const TASKS = [{ id: 'edit', lines: ['WRITE src/new.txt: new\\n', 'APPEND README.md: more\\n'] }];

/** The one line `orc` printed on stderr. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toContain('    at ');
  return lines[0]!;
}

describe('Claude Code runs that cannot start or cannot work (built CLI, real daemon)', () => {
  it('refuses a working tree with uncommitted changes and leaves it exactly as it was', async () => {
    const repo = await sb.repo({ 'README.md': '# project\n', 'notes.txt': 'draft\n' });
    await writeFile(join(repo, 'notes.txt'), 'draft, edited\n');
    const before = await userState(repo);
    const cwd = await sb.runFolder(TASKS);

    const result = await sb.run(cwd, repo);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(oneLine(result.stderr)).toMatch(
      /^orc: \S+ has uncommitted changes to tracked files \(notes\.txt\); .*commit them, or stash them/,
    );
    expect(await userState(repo)).toEqual(before);
    expect(await orcBranchNames(repo)).toEqual([]);
    expect(existsSync(join(sb.home, 'worktrees'))).toBe(false);
  });

  it('refuses a directory that is not a git repository and creates nothing in it', async () => {
    const dir = await sb.folder('plain');
    await writeFile(join(dir, 'file.txt'), 'plain\n');
    const cwd = await sb.runFolder(TASKS);

    const result = await sb.run(cwd, dir);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(oneLine(result.stderr)).toBe(
      `orc: ${dir} is not a git repository; run orc in a repository or pass --workdir <repo>`,
    );
    expect(await workingFiles(dir)).toEqual({ 'file.txt': 'plain\n' });
    expect(existsSync(join(dir, '.git'))).toBe(false);
  });

  // The broken claude stands in for faults the real one cannot be made to show.
  const failures: { name: string; config: (sandbox: ClaudeSandbox) => RunConfig; reason: RegExp }[] = [
    {
      name: 'a missing claude',
      config: (sandbox) => ({ command: join(sandbox.home, 'bin', 'no-such-claude') }),
      reason:
        /^permanent error: the claude command was not found \(claude_cli\.command = \S+no-such-claude\); install Claude Code or unset claude_cli\.command to use the one the Agent SDK bundles$/,
    },
    {
      name: 'a claude that exits 1',
      config: () => ({ command: BROKEN_CLAUDE, environment: { BROKEN_CLAUDE_MODE: 'exit1' } }),
      reason: /^transient error: Claude Code failed: .*connect ECONNREFUSED 127\.0\.0\.1:443/,
    },
    {
      name: 'a claude that prints garbage',
      config: () => ({ command: BROKEN_CLAUDE, environment: { BROKEN_CLAUDE_MODE: 'garbage' } }),
      reason: /^transient error: Claude Code failed: /,
    },
  ];

  it.each(failures)(
    '$name: the task fails with a clear reason in orc show --json, the repository is unchanged',
    async ({ config, reason }) => {
      const repo = await sb.repo();
      const before = await userState(repo);
      const cwd = await sb.runFolder(TASKS, config(sb));

      const result = await sb.run(cwd, repo);
      expect(result.code).toBe(1);
      const summary = JSON.parse(result.stdout) as RunSummary;
      expect(summary.status).toBe('failed');
      expect(oneLine(result.stderr)).toBe(
        `orc: run ${summary.id} failed: 1 task failed (first: edit: ${summary.error?.match(/\(first: edit: (.*)\); fix/)?.[1]}); ` +
          `fix the cause, then orc retry ${summary.id} <task>`,
      );
      expect(summary.error).toMatch(/\(first: edit: (permanent|transient) error: /);

      const shown = await sb.show(summary.id);
      expect(shown.status).toBe('failed');
      const task = shown.tasks[0]!;
      expect(task.status).toBe('failed');
      expect(task.error).toMatch(reason);

      // Nothing reached the repository: the user's side as it was; the run's branches (orc/<run> and the
      // task branch its attempt was prepared on) still at the start commit, no attempt branch.
      expect(await userState(repo)).toEqual(before);
      const branches = await orcBranchNames(repo);
      expect(branches.sort()).toEqual([`orc/${summary.id}`, `orc/${summary.id}-tasks/edit`]);
      for (const branch of branches) expect(await git(repo, 'rev-parse', branch)).toBe(before.head);
      expect(await extraWorktrees(repo)).toEqual([]);
    },
  );
});
