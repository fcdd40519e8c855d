import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A temp folder holding a git repository and, beside it, a state directory for the worktrees. */
export interface TempGitRepo {
  /** The folder holding both; `remove()` deletes it. */
  dir: string;
  /** A repository on `main` with one commit, "initial", of the files given. */
  repo: string;
  /** `<dir>/home`, not made: the state directory whose `worktrees/` a workspace fills. */
  home: string;
  /** The initial commit's id. */
  start: string;
  remove(): Promise<void>;
}

/**
 * A real repository for workspace tests: `git init` on `main`, a committer of its own (never the user's
 * identity), and the files committed. Git runs without the caller's GIT_DIR and friends, which would
 * point it at another repository.
 */
export async function tempGitRepo(
  prefix: string,
  files: Record<string, string> = { 'README.md': '# Project\n' },
): Promise<TempGitRepo> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const repo = join(dir, 'repo');
  await mkdir(repo);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GIT_')));
  const git = async (...args: string[]) => (await run('git', args, { cwd: repo, env })).stdout.trim();
  await git('init', '--quiet', '--initial-branch=main');
  await git('config', 'user.name', 'Test Person');
  await git('config', 'user.email', 'test@example.test');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(repo, name)), { recursive: true });
    await writeFile(join(repo, name), text);
  }
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'initial');
  const start = await git('rev-parse', 'HEAD');
  return {
    dir,
    repo,
    home: join(dir, 'home'),
    start,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
