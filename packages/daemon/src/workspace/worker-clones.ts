import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrcError } from '@orc/shared';
import { ModelError } from '../model/model-error.js';
import { stopLeftoverAgent } from './agent-pid.js';
import { commitIdentity, git, GitError, gitLine, gitSucceeds } from './git.js';
import { KEPT_MESSAGE } from './worktrees.js';

/** What a worker's attempt starts from and where its work goes (the wire's `AgentCheckout`). */
export interface CloneCheckout {
  remote: string;
  runId: string;
  base: string;
  baseBranch: string;
  branch: string;
  message: string;
  keep?: string;
}

/** What an attempt left on the remote: its commit on the task branch, none when it changed nothing. */
export interface PushedCommit {
  base: string;
  branch: string;
  commit?: string;
}

/**
 * Fetches and pushes move a whole repository's objects over a network: a minute (git.ts's default) is
 * too short for a large first clone, so they get ten.
 */
const NETWORK_TIMEOUT_MS = 10 * 60_000;

/**
 * An `orc worker`'s repositories: one bare clone per remote under the workdir root
 * (`<root>/<name>-<hash of the URL>/repo.git`), and beside it one worktree per attempt
 * (`…/attempts/<job id>`), outside every `.git` directory since Claude Code will not edit under one. The
 * clone fetches only what an attempt needs (the run's integration branch), before each attempt; git's
 * credentials are this machine's own (its credential helper, its SSH keys), never sent by the daemon.
 *
 * Git commands on one clone run one at a time; the agents in the worktrees run in parallel.
 */
export class WorkerClones {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {}

  /**
   * Takes the workdir root for this process (a second worker on the same root would clear the first's
   * worktrees) and clears the attempt worktrees a killed worker left there, stopping their agents: their
   * jobs went to other workers, and nothing in them was pushed as done.
   */
  async open(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const lock = join(this.root, 'worker.pid');
    const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
      throw new OrcError(
        'INVALID_STATE',
        `the workdir root ${this.root} is in use by the orc worker with pid ${holder}; give this worker its own with --workdir-root <dir>`,
      );
    await writeFile(lock, `${process.pid}\n`, { mode: 0o600 });
    for (const clone of await readdir(this.root, { withFileTypes: true })) {
      if (!clone.isDirectory()) continue;
      const repo = join(this.root, clone.name, 'repo.git');
      const attempts = join(this.root, clone.name, 'attempts');
      for (const entry of await readdir(attempts).catch(() => [])) {
        if (entry.endsWith('.agent-pid')) continue;
        await clearWorktree(repo, join(attempts, entry)).catch(() =>
          rm(join(attempts, entry), { recursive: true, force: true }),
        );
      }
    }
  }

  /** Lets go of the workdir root. */
  async close(): Promise<void> {
    const lock = join(this.root, 'worker.pid');
    if ((await readFile(lock, 'utf8').catch(() => '')).trim() === String(process.pid))
      await rm(lock, { force: true });
  }

  /**
   * A worktree for job `jobId` at the checkout's base commit (detached: the push names the task branch).
   * A worktree the same job left (this machine's worker was killed while it held the job) is cleared
   * first, its agent stopped, so a half-done attempt never carries over.
   */
  async checkout(jobId: string, checkout: CloneCheckout): Promise<CloneWorktree> {
    const dir = await this.cloneDir(checkout.remote);
    const repo = join(dir, 'repo.git');
    const path = join(dir, 'attempts', jobFolder(jobId));
    await this.exclusive(repo, async () => {
      if (!existsSync(join(repo, 'HEAD'))) await git(['init', '--quiet', '--bare', repo], dir);
      await fetchBase(repo, checkout);
      await clearWorktree(repo, path);
      await git(['worktree', 'add', '--quiet', '--detach', path, checkout.base], repo);
    });
    return new CloneWorktree(repo, path, checkout, (work) => this.exclusive(repo, work));
  }

  private async cloneDir(remote: string): Promise<string> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const name = (/([^/:\\]+?)(?:\.git)?\/*$/.exec(remote)?.[1] ?? 'repo').replace(/[^A-Za-z0-9._-]/g, '_');
    const dir = join(
      await realpath(this.root),
      `${name}-${createHash('sha256').update(remote).digest('hex').slice(0, 12)}`,
    );
    await mkdir(join(dir, 'attempts'), { recursive: true, mode: 0o700 });
    return dir;
  }

  private exclusive<T>(repo: string, work: () => Promise<T>): Promise<T> {
    const result = (this.queues.get(repo) ?? Promise.resolve()).then(work);
    this.queues.set(
      repo,
      result.catch(() => undefined),
    );
    return result;
  }
}

/** One attempt's worktree in a worker's clone. */
export class CloneWorktree {
  constructor(
    private readonly repo: string,
    /** The agent's working directory. */
    readonly path: string,
    private readonly checkout: CloneCheckout,
    private readonly exclusive: <T>(work: () => Promise<T>) => Promise<T>,
  ) {}

  /**
   * Commits everything the agent changed (ignored files excepted) and pushes it to the task branch on the
   * remote, replacing what an earlier attempt (or an earlier try of this one) pushed there: the answer
   * names the commit, so a second push of the same attempt is harmless. Nothing changed: nothing pushed.
   */
  async publish(): Promise<PushedCommit> {
    const { base, branch, message, remote } = this.checkout;
    await git(['add', '-A'], this.path);
    const committed = await git(['commit', '--quiet', '--no-verify', '-m', message], this.path, {
      env: await commitIdentity(this.repo),
      okExitCodes: [1],
    });
    if (committed.exitCode === 1 && !/nothing (added )?to commit/.test(committed.stdout))
      throw new GitError(['commit'], 1, committed.stderr || committed.stdout);
    const commit = await gitLine(['rev-parse', 'HEAD'], this.path);
    if (commit === base) return { base, branch };
    try {
      await git(['push', '--quiet', '--force', remote, `${commit}:refs/heads/${branch}`], this.repo, {
        timeoutMs: NETWORK_TIMEOUT_MS,
      });
    } catch (error) {
      throw unreachable(error, `push ${branch} to ${remote}`);
    }
    return { base, branch, commit };
  }

  /**
   * A failed attempt's work, pushed to the checkout's `keep` branch as one commit on its base (the
   * worker's side of what `removeWorktreeKeepingWork` does on the daemon's machine). Returns the branch,
   * or undefined when the agent changed nothing or there is no such branch.
   */
  async keep(): Promise<string | undefined> {
    const { keep, base, remote } = this.checkout;
    if (keep === undefined || !existsSync(this.path)) return undefined;
    await git(['add', '-A'], this.path);
    await git(['commit', '--quiet', '--no-verify', '-m', KEPT_MESSAGE], this.path, {
      env: await commitIdentity(this.repo),
      okExitCodes: [1],
    });
    const tip = await gitLine(['rev-parse', 'HEAD'], this.path);
    if (tip === base) return undefined;
    await git(['push', '--quiet', '--force', remote, `${tip}:refs/heads/${keep}`], this.repo, {
      timeoutMs: NETWORK_TIMEOUT_MS,
    });
    return keep;
  }

  /** The worktree goes, its agent stopped first; what it held is on the remote already, or is given up. */
  remove(): Promise<void> {
    return this.exclusive(() => clearWorktree(this.repo, this.path));
  }
}

/** The run's integration branch fetched into the clone, so the base commit is there. */
async function fetchBase(repo: string, checkout: CloneCheckout): Promise<void> {
  const { remote, base, baseBranch } = checkout;
  const has = () => gitSucceeds(['cat-file', '-e', `${base}^{commit}`], repo);
  if (await has()) return;
  try {
    await git(
      ['fetch', '--quiet', '--no-tags', remote, `+refs/heads/${baseBranch}:refs/orc-bases/${baseBranch}`],
      repo,
      { timeoutMs: NETWORK_TIMEOUT_MS },
    );
  } catch (error) {
    throw unreachable(error, `fetch ${baseBranch} from ${remote}`);
  }
  if (await has()) return;
  // The branch moved on meanwhile (a rollback, another push): ask for the commit itself.
  await git(['fetch', '--quiet', '--no-tags', remote, base], repo, {
    timeoutMs: NETWORK_TIMEOUT_MS,
    okExitCodes: [1, 128],
  });
  if (!(await has()))
    throw new ModelError(
      'transient',
      `commit ${base.slice(0, 12)} of ${baseBranch} is not on ${remote}; the daemon pushes it before each attempt, so the attempt is tried again`,
    );
}

/** Removes a worktree (and any agent a killed worker left running in it) if it is there. */
async function clearWorktree(repo: string, path: string): Promise<void> {
  await stopLeftoverAgent(path);
  if (existsSync(path))
    await git(['worktree', 'remove', '--force', '--force', path], repo, { okExitCodes: [128] });
  await rm(path, { recursive: true, force: true });
  await git(['worktree', 'prune'], repo);
}

/** A git command against the remote failed: a transient failure (the run retries) that says which and why. */
function unreachable(error: unknown, what: string): unknown {
  if (!(error instanceof GitError)) return error;
  const said = error.stderr.trim().split('\n').at(-1) ?? '';
  return new ModelError(
    'transient',
    `this worker could not ${what}${said ? ` (${said})` : ''}; check the worker machine's access to it (its git credentials, its network)`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A job id as a folder name: BullMQ ids of ours hold letters, digits, `.`, `%` and `-`. */
function jobFolder(jobId: string): string {
  return jobId.replace(/[^A-Za-z0-9._%-]/g, '_');
}
