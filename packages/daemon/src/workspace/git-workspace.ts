import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, realpath, rm, rmdir, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { OrcError, statePaths } from '@orc/shared';
import { commitIdentity, git, GitError, gitLine, gitSucceeds, requireGitVersion } from './git.js';
import { fullRef, orcBranches, refComponent } from './orc-branches.js';
import { bounded, conflictReport, mergeTrees, treeOf } from './tree-merge.js';
import type { RemovedWorktree, WorktreeEntry } from './worktrees.js';
import { attemptOfPath, KEPT_MESSAGE, listWorktrees, removeWorktreeKeepingWork } from './worktrees.js';
import { stopLeftoverAgent } from './agent-pid.js';
import { checkoutTrain, removeTrainWorktree } from './train-worktree.js';
import { RunRemote } from './run-remote.js';

export interface GitWorkspaceOptions {
  /**
   * The state directory. Attempt worktrees live under its `worktrees/`, outside every `.git` directory:
   * Claude Code refuses to edit anything under `.git/` (a "sensitive file").
   */
  home: string;
  /** Where the run started, as recorded when it was first opened (a restored run). */
  start?: RunStart;
  /** The git URL of a run whose agents work on other machines (`RunRemote`). */
  remote?: string;
}

/** Where a run started, so `finish({ merge: true })` knows what to merge into. */
export interface RunStart {
  /** The branch checked out when the run started; absent on a detached HEAD. */
  branch?: string;
  commit: string;
}

export interface PreparedAttempt {
  /** The worktree: the agent's working directory. */
  path: string;
  branch: string;
  /** The integration commit the attempt starts from. */
  base: string;
}

export type MergeResult =
  | {
      ok: true;
      /** The task's commit on the integration branch; absent when the task changed nothing. */ commit?: string;
    }
  | { ok: false; conflict: string; files: string[] };

/** What `stack` made: the candidate's tip, the tasks in it (with the task tips merged), and the conflicts. */
export interface StackResult {
  tip: string;
  stacked: { taskId: string; tip: string }[];
  conflicts: { taskId: string; conflict: string; files: string[] }[];
}

export type RevertResult =
  | { ok: true; reverted: { taskId: string; commit: string; revert: string }[]; notFound: string[] }
  | { ok: false; taskId: string; conflict: string };

export type FinishResult =
  { merged: true; into: string; commit: string } | { merged: false; branch: string; message: string };

/** The merge train's worktree folder in the run's; no task's folder starts with "." (refComponent). */
const TRAIN_FOLDER = '.train';

/**
 * The git side of one run in one repository. Every attempt works in its own worktree on a task branch
 * made from the integration branch `orc/<runId>`; accepted work lands there as one commit per task. The
 * user's working tree and branches are never touched, except by `finish({ merge: true })`.
 *
 * Calls that move refs or worktrees run one at a time; the agents in the worktrees run in parallel.
 */
export class GitWorkspace {
  /** The integration commit each task's current attempt started from. */
  private readonly bases = new Map<string, string>();
  /** Task tips merged since the attempt began: their worktrees hold nothing the branch lacks. */
  private readonly mergedTips = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Where agents on other machines fetch the integration head and push their work; absent: they work here. */
  readonly remote: RunRemote | undefined;

  private constructor(
    readonly repo: string,
    readonly runId: string,
    readonly start: RunStart | undefined,
    /** `<state dir>/worktrees/<repo-id>/<runId>`: the run's attempt worktrees, one folder per task. */
    private readonly runDir: string,
    remote: string | undefined,
  ) {
    this.remote = remote === undefined ? undefined : new RunRemote(repo, runId, remote);
  }

  get branch(): string {
    return orcBranches.integration(this.runId);
  }

  /**
   * Opens the run's workspace in the repository holding `workdir`: creates `orc/<runId>` from HEAD, or
   * attaches to it when it exists (a daemon restart). Refuses a directory outside git and a working tree
   * with uncommitted changes to tracked files, which the run would silently leave out.
   */
  static async open(workdir: string, runId: string, options: GitWorkspaceOptions): Promise<GitWorkspace> {
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new OrcError('INVALID_STATE', `run id "${runId}" cannot name a git branch`);
    }
    const notARepo = new OrcError(
      'CONFIG_INVALID',
      `${workdir} is not a git repository; run orc in a repository or pass --workdir <repo>`,
    );
    const isDirectory = await stat(workdir).then(
      (info) => info.isDirectory(),
      () => false,
    );
    if (!isDirectory) throw notARepo;
    await requireGitVersion(workdir);
    const where = await git(
      ['rev-parse', '--is-inside-work-tree', '--show-toplevel', '--path-format=absolute', '--git-common-dir'],
      workdir,
      { okExitCodes: [128] },
    );
    const [inside, top = '', commonDir = ''] = where.stdout.trim().split('\n');
    if (where.exitCode !== 0 || inside !== 'true') throw notARepo;
    const repo = await realpath(top);
    // Made only once the run is sure to go ahead, so a refusal leaves everything as it was.
    const runDir = async (): Promise<string> => {
      const root = statePaths(options.home).worktrees;
      await mkdir(root, { recursive: true, mode: 0o700 });
      return join(await realpath(root), await repoId(repo, commonDir), runId);
    };
    const integration = fullRef(orcBranches.integration(runId));

    if (await gitSucceeds(['rev-parse', '--verify', '--quiet', `${integration}^{commit}`], repo)) {
      return new GitWorkspace(repo, runId, options.start, await runDir(), options.remote);
    }

    const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], repo, { okExitCodes: [1] });
    if (head.exitCode !== 0) {
      throw new OrcError(
        'INVALID_STATE',
        `${repo} has no commits yet; make a first commit, then start the run again`,
      );
    }
    const dirty = await gitLine(['status', '--porcelain', '--untracked-files=no'], repo);
    if (dirty !== '') {
      const files = dirty.split('\n').map((line) => line.slice(3));
      const named = files.slice(0, 5).join(', ') + (files.length > 5 ? `, and ${files.length - 5} more` : '');
      throw new OrcError(
        'INVALID_STATE',
        `${repo} has uncommitted changes to tracked files (${named}); the run starts from the last commit and ` +
          `would leave them out: commit them, or stash them (git stash), then start the run again`,
      );
    }
    const commit = head.stdout.trim();
    const branchLine = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], repo, { okExitCodes: [1] });
    const start: RunStart = {
      commit,
      ...(branchLine.stdout.trim() ? { branch: branchLine.stdout.trim() } : {}),
    };
    const dir = await runDir();
    // An empty old value: fail rather than move a branch someone created in the meantime.
    await git(['update-ref', integration, commit, ''], repo);
    return new GitWorkspace(repo, runId, start, dir, options.remote);
  }

  /** The integration branch's commit, for checkpoints. */
  head(): Promise<string> {
    return gitLine(['rev-parse', `${fullRef(this.branch)}^{commit}`], this.repo);
  }

  /** Where attempt `attempt` of `taskId` works. */
  worktreePath(taskId: string, attempt: number): string {
    return join(this.runDir, refComponent(taskId), `attempt-${attempt}`);
  }

  /**
   * A fresh worktree for one attempt, on the task branch reset to the current integration head, so the
   * attempt sees every task merged so far. A worktree this task still has is removed first (work kept).
   */
  prepareAttempt(taskId: string, attempt: number): Promise<PreparedAttempt> {
    return this.exclusive(async () => {
      const branch = orcBranches.task(this.runId, taskId);
      const base = await this.head();
      const path = this.worktreePath(taskId, attempt);
      const add = ['worktree', 'add', '--quiet', '-B', branch, path, base];
      try {
        await git(add, this.repo);
      } catch (error) {
        // The branch is still checked out in an earlier attempt's worktree, or this attempt is prepared
        // again after a restart: clear those worktrees (work kept), then retry once.
        if (!(error instanceof GitError)) throw error;
        for (const worktree of await listWorktrees(this.repo)) {
          if (worktree.branch === fullRef(branch) || samePath(worktree.path, path)) {
            await this.removeKeepingWork(taskId, worktree);
          }
        }
        await git(add, this.repo);
      }
      this.bases.set(taskId, base);
      this.mergedTips.delete(taskId);
      return { path, branch, base };
    });
  }

  /** Points the task branch at `tip` for an attempt begun at `base` (an agent's on another machine). */
  setTaskTip(taskId: string, base: string, tip: string): Promise<void> {
    return this.exclusive(async () => {
      await git(['update-ref', fullRef(orcBranches.task(this.runId, taskId)), tip], this.repo);
      this.bases.set(taskId, base);
      this.mergedTips.delete(taskId);
    });
  }

  /**
   * Commits everything in the attempt's worktree (ignored files excepted) on the task branch. Returns the
   * task branch's commit, or undefined when the attempt changed nothing.
   */
  commitAttempt(taskId: string, attempt: number, message: string): Promise<string | undefined> {
    return this.exclusive(async () => {
      const path = this.worktreePath(taskId, attempt);
      await git(['add', '-A'], path);
      // Exit 1 with nothing staged: the attempt changed nothing, which is an answer, not a failure.
      const committed = await git(['commit', '--quiet', '--no-verify', '-m', message], path, {
        env: await commitIdentity(this.repo),
        okExitCodes: [1],
      });
      if (committed.exitCode === 1 && !/nothing (added )?to commit/.test(committed.stdout)) {
        throw new GitError(['commit'], 1, committed.stderr || committed.stdout);
      }
      const tip = await gitLine(['rev-parse', 'HEAD'], path);
      return tip === (await this.baseOf(taskId)) ? undefined : tip;
    });
  }

  /**
   * The task branch's changes against the integration commit its attempt started from. Past `limitBytes`
   * it is a `--stat` summary followed by as much of the diff as fits.
   */
  async diff(taskId: string, limitBytes = 20_000): Promise<string> {
    const base = await this.baseOf(taskId);
    const tip = fullRef(orcBranches.task(this.runId, taskId));
    const full = await git(['diff', '--no-color', base, tip], this.repo, { maxOutputBytes: limitBytes + 1 });
    if (!full.truncated && Buffer.byteLength(full.stdout) <= limitBytes) return full.stdout;
    const summary = await git(['diff', '--no-color', '--stat=100', base, tip], this.repo, {
      maxOutputBytes: limitBytes,
    });
    const room = Math.max(0, limitBytes - Buffer.byteLength(summary.stdout) - 2);
    return `${summary.stdout}\n${bounded(full.stdout, room, true)}`;
  }

  /**
   * Adds the task's work to the integration branch as one commit (a squash: the task branch keeps the
   * worker's own history). Works on trees only, never on a checkout. On a conflict the integration
   * branch is left as it was and the conflicting files and hunks come back for a rework.
   */
  merge(taskId: string, message?: string): Promise<MergeResult> {
    return this.exclusive(async () => {
      const head = await this.head();
      const step = await this.mergeOnto(head, taskId, message);
      if (!step.ok) return step;
      this.mergedTips.set(taskId, step.tip);
      if (step.commit === undefined) return { ok: true };
      await this.moveIntegration(step.commit, head);
      return { ok: true, commit: step.commit };
    });
  }

  /**
   * The merge train's candidate: the tasks' work merged onto `head` one after another, one commit each,
   * without moving any ref. Tasks that conflict (with `head` or with those before them) are left out.
   */
  stack(head: string, taskIds: readonly string[]): Promise<StackResult> {
    return this.exclusive(async () => {
      let tip = head;
      const stacked: StackResult['stacked'] = [];
      const conflicts: StackResult['conflicts'] = [];
      for (const taskId of taskIds) {
        const step = await this.mergeOnto(tip, taskId);
        if (!step.ok) conflicts.push({ taskId, conflict: step.conflict, files: step.files });
        else {
          tip = step.commit ?? tip;
          stacked.push({ taskId, tip: step.tip });
        }
      }
      return { tip, stacked, conflicts };
    });
  }

  /** Moves the integration branch from `from` to a verified `tip` made by `stack`; false if it moved meanwhile. */
  land(tip: string, from: string, stacked: StackResult['stacked']): Promise<boolean> {
    return this.exclusive(async () => {
      if ((await this.head()) !== from) return false;
      if (tip !== from) await this.moveIntegration(tip, from);
      for (const { taskId, tip: taskTip } of stacked) this.mergedTips.set(taskId, taskTip);
      return true;
    });
  }

  /** Where the merge train checks out what it verifies: a detached worktree of its own. */
  get trainPath(): string {
    return join(this.runDir, TRAIN_FOLDER);
  }

  /** Checks out `commit` in the train's worktree for a verify; returns its path. */
  checkoutTrain(commit: string): Promise<string> {
    return this.exclusive(() => checkoutTrain(this.repo, this.trainPath, commit).then(() => this.trainPath));
  }

  /** One task's work merged onto `onto`: the commit (none when it changes nothing), or its conflict. */
  private async mergeOnto(
    onto: string,
    taskId: string,
    message?: string,
  ): Promise<{ ok: true; commit?: string; tip: string } | { ok: false; conflict: string; files: string[] }> {
    const taskRef = fullRef(orcBranches.task(this.runId, taskId));
    const refs = await git(
      ['rev-parse', `${onto}^{tree}`, `${taskRef}^{commit}`],
      this.repo,
      // 128: the task branch does not exist (no attempt was prepared).
      { okExitCodes: [128] },
    );
    const [ontoTree = '', tip = ''] = refs.stdout.trim().split('\n');
    if (refs.exitCode !== 0 || !tip) {
      throw new OrcError(
        'INVALID_STATE',
        `task ${taskId} has no branch in run ${this.runId}; prepare an attempt first`,
      );
    }
    const base = this.bases.get(taskId);
    if (
      base &&
      base !== onto &&
      !(await gitSucceeds(['merge-base', '--is-ancestor', base, onto], this.repo))
    ) {
      return {
        ok: false,
        files: [],
        conflict: `the integration branch was rolled back past ${base.slice(0, 12)}, where this attempt started; prepare a new attempt`,
      };
    }
    const merged = await mergeTrees(this.repo, onto, tip);
    if (!merged.ok) {
      return { ok: false, files: merged.files, conflict: await conflictReport(this.repo, onto, merged) };
    }
    if (merged.tree === ontoTree) return { ok: true, tip };
    const subject = message ?? (await gitLine(['log', '-1', '--format=%s', tip], this.repo));
    const commit = await this.commitTree(
      merged.tree,
      onto,
      `${subject}\n\nOrc-Run: ${this.runId}\nOrc-Task: ${taskId}`,
    );
    return { ok: true, commit, tip };
  }

  /**
   * Removes the attempt's worktree. Whatever it holds that the integration branch lacks (uncommitted
   * changes included) is first committed to `orc/<runId>-attempts/<taskId>/<attempt>`.
   */
  removeAttempt(taskId: string, attempt: number): Promise<RemovedWorktree | undefined> {
    return this.exclusive(async () => {
      const path = this.worktreePath(taskId, attempt);
      const worktree = (await listWorktrees(this.repo)).find((entry) => samePath(entry.path, path));
      return worktree ? this.removeKeepingWork(taskId, worktree) : undefined;
    });
  }

  /**
   * After a crash: every worktree this run left behind is removed, its work kept on attempt branches,
   * except those in `keep` (attempts whose agent session goes on there). Agents a killed daemon left
   * running are stopped in either case.
   */
  recover(keep: ReadonlySet<string> = new Set()): Promise<RemovedWorktree[]> {
    return this.exclusive(async () => {
      for (const path of keep) await stopLeftoverAgent(path);
      return this.removeAllWorktrees(keep);
    });
  }

  /**
   * The worktree attempt `attempt` of `taskId` left, taken up again so its agent session can go on there;
   * undefined when it is gone, or no longer on the task branch.
   */
  resumeAttempt(taskId: string, attempt: number): Promise<PreparedAttempt | undefined> {
    return this.exclusive(async () => {
      const path = this.worktreePath(taskId, attempt);
      const branch = orcBranches.task(this.runId, taskId);
      const worktree = (await listWorktrees(this.repo)).find((entry) => samePath(entry.path, path));
      if (!worktree || worktree.prunable || worktree.branch !== fullRef(branch) || !existsSync(path)) {
        return undefined;
      }
      const base = await this.baseOf(taskId);
      // A rollback moved the integration branch back past where the attempt started: start afresh.
      const head = await this.head();
      if (base !== head && !(await gitSucceeds(['merge-base', '--is-ancestor', base, head], this.repo))) {
        return undefined;
      }
      this.bases.set(taskId, base);
      this.mergedTips.delete(taskId);
      return { path, branch, base };
    });
  }

  /** Full rollback: the integration branch goes back to `commit` (a checkpoint's), nothing else moves. */
  resetTo(commit: string): Promise<void> {
    return this.exclusive(async () => {
      const target = await git(['rev-parse', '--verify', '--quiet', `${commit}^{commit}`], this.repo, {
        okExitCodes: [1],
      });
      const resolved = target.stdout.trim();
      const startCommit = this.start?.commit;
      if (
        target.exitCode !== 0 ||
        (startCommit &&
          !(await gitSucceeds(['merge-base', '--is-ancestor', startCommit, resolved], this.repo)))
      ) {
        throw new OrcError(
          'CHECKPOINT_NOT_FOUND',
          `commit ${commit} is not on run ${this.runId}'s integration branch ${this.branch}; pick a checkpoint of this run`,
        );
      }
      await this.moveIntegration(resolved, await this.head());
    });
  }

  /**
   * Selective rollback: reverts the given tasks' commits on the integration branch, newest first, all or
   * nothing. A revert that conflicts with later work leaves the branch unchanged.
   */
  revertTasks(taskIds: readonly string[]): Promise<RevertResult> {
    return this.exclusive(async () => {
      const head = await this.head();
      const wanted = new Set(taskIds);
      const targets = (await this.taskCommits(head)).filter((entry) => wanted.has(entry.taskId));
      let current = head;
      const reverted: { taskId: string; commit: string; revert: string }[] = [];
      for (const { taskId, commit } of targets) {
        // A commit with C's parent's tree on top of C: merging it into the head has base C, so it undoes C.
        const undo = await this.commitTree(await treeOf(this.repo, `${commit}^`), commit, `undo ${commit}`);
        const merged = await mergeTrees(this.repo, current, undo);
        if (!merged.ok) {
          return { ok: false, taskId, conflict: await conflictReport(this.repo, current, merged) };
        }
        const subject = await gitLine(['log', '-1', '--format=%s', commit], this.repo);
        current = await this.commitTree(
          merged.tree,
          current,
          `Revert "${subject}"\n\nOrc-Run: ${this.runId}\nOrc-Reverts: ${commit}`,
        );
        reverted.push({ taskId, commit, revert: current });
      }
      if (current !== head) await this.moveIntegration(current, head);
      const found = new Set(targets.map((entry) => entry.taskId));
      return { ok: true, reverted, notFound: taskIds.filter((id) => !found.has(id)) };
    });
  }

  /**
   * Ends the run's use of git: every worktree goes (work kept), then the integration branch is either
   * left for review or fast-forwarded into the branch the run started from, if that branch has not moved.
   */
  finish(options: { merge: boolean }): Promise<FinishResult> {
    return this.exclusive(async () => {
      await this.removeAllWorktrees();
      // Nothing of the run stays in the state directory; its repository's folder goes once it is empty.
      await rm(this.runDir, { recursive: true, force: true });
      await rmdir(join(this.runDir, '..')).catch(() => undefined);
      const head = await this.head();
      const review = (why: string): FinishResult => ({
        merged: false,
        branch: this.branch,
        message: `${why}the work is on ${this.branch}: review it (git log ${this.start?.commit.slice(0, 12) ?? 'HEAD'}..${this.branch}) and merge it with git merge ${this.branch}`,
      });
      if (!options.merge) return review('');
      const start = this.start;
      if (!start?.branch)
        return review('the run started on a detached HEAD, so there is no branch to merge into; ');
      const startRef = fullRef(start.branch);
      const now = await git(['rev-parse', '--verify', '--quiet', `${startRef}^{commit}`], this.repo, {
        okExitCodes: [1],
      });
      if (now.stdout.trim() !== start.commit) {
        return review(
          `${start.branch} moved since the run started (it was ${start.commit.slice(0, 12)}), so orc did not merge; `,
        );
      }
      if (head === start.commit)
        return { merged: false, branch: this.branch, message: 'the run changed nothing; nothing to merge' };
      const checkedOut = (await listWorktrees(this.repo)).find((entry) => entry.branch === startRef);
      if (!checkedOut) {
        await git(['update-ref', startRef, head, start.commit], this.repo);
        return { merged: true, into: start.branch, commit: head };
      }
      try {
        // The branch is someone's checkout: a fast-forward updates their files, and git refuses it rather
        // than overwrite a local change.
        await git(['merge', '--ff-only', '--quiet', fullRef(this.branch)], checkedOut.path);
      } catch (error) {
        if (!(error instanceof GitError)) throw error;
        return review(
          `git could not fast-forward ${start.branch} in ${checkedOut.path} (${error.stderr.trim().split('\n').at(-1) ?? ''}); `,
        );
      }
      return { merged: true, into: start.branch, commit: head };
    });
  }

  private async removeAllWorktrees(keep: ReadonlySet<string> = new Set()): Promise<RemovedWorktree[]> {
    const removed: RemovedWorktree[] = [];
    const prefix = orcBranches.taskPrefix(this.runId);
    const kept = [...keep].map((path) => path.replace(/\/+$/, ''));
    for (const worktree of await listWorktrees(this.repo)) {
      const mine = worktree.branch?.startsWith(prefix) || worktree.path.startsWith(`${this.runDir}${sep}`);
      if (!mine || kept.some((path) => samePath(path, worktree.path))) continue;
      // The train's checkout holds only verified commits and what the verify built: nothing to keep.
      if (samePath(worktree.path, this.trainPath)) await removeTrainWorktree(this.repo, worktree.path);
      else removed.push(await this.removeKeepingWork(undefined, worktree));
    }
    await git(['worktree', 'prune'], this.repo);
    return removed;
  }

  private removeKeepingWork(taskId: string | undefined, worktree: WorktreeEntry): Promise<RemovedWorktree> {
    const mergedTip = taskId ? this.mergedTips.get(taskId) : undefined;
    const component = taskId
      ? refComponent(taskId)
      : (worktree.branch?.slice(orcBranches.taskPrefix(this.runId).length) ?? 'detached');
    return removeWorktreeKeepingWork(
      this.repo,
      worktree,
      orcBranches.attempt(this.runId, component, attemptOfPath(worktree.path)),
      this.branch,
      KEPT_MESSAGE,
      mergedTip,
    );
  }

  /** The run's task commits on the integration branch, newest first, without those already reverted. */
  private async taskCommits(head: string): Promise<{ taskId: string; commit: string }[]> {
    const { stdout } = await git(
      ['log', '--first-parent', `--grep=^Orc-Run: ${this.runId}$`, '--format=%H%x00%B%x1e', head],
      this.repo,
    );
    const reverted = new Set<string>();
    const commits: { taskId: string; commit: string }[] = [];
    for (const record of stdout.split('\x1e')) {
      const [commit = '', body = ''] = record.trim().split('\0');
      if (!commit) continue;
      const revertOf = /^Orc-Reverts: ([0-9a-f]+)$/m.exec(body)?.[1];
      if (revertOf) reverted.add(revertOf);
      const taskId = /^Orc-Task: (\S+)$/m.exec(body)?.[1];
      // Newest first: a revert is seen before the commit it reverts.
      if (taskId && !reverted.has(commit)) commits.push({ taskId, commit });
    }
    return commits;
  }

  /** The integration commit the task's current attempt started from. */
  async baseOf(taskId: string): Promise<string> {
    const known = this.bases.get(taskId);
    if (known) return known;
    // After a restart: the task branch was made from an integration commit, which is their merge base.
    return gitLine(
      ['merge-base', fullRef(this.branch), fullRef(orcBranches.task(this.runId, taskId))],
      this.repo,
    );
  }

  private async commitTree(tree: string, parent: string, message: string): Promise<string> {
    return gitLine(['commit-tree', tree, '-p', parent, '-m', message], this.repo, {
      env: await commitIdentity(this.repo),
    });
  }

  /** Compare-and-swap: fails rather than lose a commit if the branch moved under us. */
  private async moveIntegration(to: string, from: string): Promise<void> {
    await git(['update-ref', fullRef(this.branch), to, from], this.repo);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/**
 * The folder of one repository's worktrees under the state directory: its name, for people, and a hash of
 * its git directory, so two repositories of the same name never share one.
 */
async function repoId(repo: string, commonDir: string): Promise<string> {
  const gitDir = await realpath(commonDir).catch(() => commonDir);
  const name = basename(repo).replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
  return `${name}-${createHash('sha256').update(gitDir).digest('hex').slice(0, 12)}`;
}

function samePath(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
