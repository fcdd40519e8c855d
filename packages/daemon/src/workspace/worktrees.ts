import { existsSync } from 'node:fs';
import { readdir, realpath, rmdir } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { OrcError, statePaths } from '@orc/shared';
import { stopLeftoverAgent } from './agent-pid.js';
import { commitIdentity, git, GitError, gitLine } from './git.js';
import { fullRef, orcBranches, parseTaskBranch } from './orc-branches.js';
import { mergeTrees } from './tree-merge.js';

export interface WorktreeEntry {
  path: string;
  head?: string;
  /** `refs/heads/…`, absent for a detached worktree. */
  branch?: string;
  /** Its folder is gone; `git worktree prune` forgets it. */
  prunable: boolean;
}

/** What became of one worktree when it was removed. */
export interface RemovedWorktree {
  path: string;
  branch?: string;
  /** The branch that now holds work found in it that the integration branch does not have. */
  keptOn?: string;
  commit?: string;
}

export async function listWorktrees(repo: string): Promise<WorktreeEntry[]> {
  const { stdout } = await git(['worktree', 'list', '--porcelain', '-z'], repo);
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | undefined;
  for (const field of stdout.split('\0')) {
    if (field === '') {
      if (current) entries.push(current);
      current = undefined;
      continue;
    }
    const space = field.indexOf(' ');
    const key = space === -1 ? field : field.slice(0, space);
    const value = space === -1 ? '' : field.slice(space + 1);
    if (key === 'worktree') current = { path: value, prunable: false };
    else if (!current) continue;
    else if (key === 'HEAD') current.head = value;
    else if (key === 'branch') current.branch = value;
    else if (key === 'prunable') current.prunable = true;
  }
  if (current) entries.push(current);
  return entries;
}

/**
 * Removes a worktree without losing what is in it: uncommitted changes (tracked and untracked, ignored
 * files excepted) become a commit on `attemptBranch`, and so does a committed tip the integration branch
 * does not contain yet. Only then does the folder go.
 */
export async function removeWorktreeKeepingWork(
  repo: string,
  worktree: WorktreeEntry,
  attemptBranch: string,
  integrationBranch: string,
  message: string,
  /** A tip known to be merged already, which spares the content check. */
  mergedTip?: string,
): Promise<RemovedWorktree> {
  const removed: RemovedWorktree = {
    path: worktree.path,
    ...(worktree.branch ? { branch: worktree.branch } : {}),
  };
  // An agent a killed daemon left running would write on while its work is kept and its folder goes.
  await stopLeftoverAgent(worktree.path);
  const present = existsSync(worktree.path) && !worktree.prunable;
  let tip = worktree.head;
  let uncommitted = false;
  if (present) {
    tip ??= await gitLine(['rev-parse', 'HEAD'], worktree.path);
    const status = await gitLine(['status', '--porcelain', '--untracked-files=all'], worktree.path);
    if (status !== '') {
      uncommitted = true;
      // The worktree's own index is about to go with it, so staging everything there costs nothing.
      await git(['add', '-A'], worktree.path);
      const tree = await gitLine(['write-tree'], worktree.path);
      tip = await gitLine(['commit-tree', tree, '-p', tip, '-m', message], worktree.path, {
        env: await commitIdentity(repo),
      });
    }
  }
  if (tip && (uncommitted || (tip !== mergedTip && !(await isContained(repo, integrationBranch, tip))))) {
    removed.keptOn = await keepOnBranch(repo, attemptBranch, tip);
    removed.commit = tip;
  }
  if (present) await git(['worktree', 'remove', '--force', '--force', worktree.path], repo);
  else await git(['worktree', 'prune'], repo);
  return removed;
}

/**
 * Whether everything in `commit` is already on `branch`: merging it would change nothing. Squash merges
 * never make a task's commit an ancestor, so this compares content, not history.
 */
async function isContained(repo: string, branch: string, commit: string): Promise<boolean> {
  const refs = await git(['rev-parse', `${fullRef(branch)}^{commit}`, `${fullRef(branch)}^{tree}`], repo, {
    okExitCodes: [128],
  });
  const [head, headTree] = refs.stdout.trim().split('\n');
  if (refs.exitCode !== 0 || !head || !headTree) return false;
  // An ancestor merges to the head's own tree too, so one merge answers both cases.
  const merged = await mergeTrees(repo, head, commit);
  return merged.ok && merged.tree === headTree;
}

/** Points `branch` (or `branch-2`, `-3`, … when it already holds something else) at `commit`. */
async function keepOnBranch(repo: string, branch: string, commit: string): Promise<string> {
  for (let n = 1; ; n++) {
    const name = n === 1 ? branch : `${branch}-${n}`;
    const existing = await git(['rev-parse', '--verify', '--quiet', `${fullRef(name)}^{commit}`], repo, {
      okExitCodes: [1],
    });
    const value = existing.stdout.trim();
    if (value === commit) return name;
    if (existing.exitCode !== 0 || value === '') {
      // An empty old value makes the update fail if someone created the branch in the meantime.
      await git(['update-ref', fullRef(name), commit, ''], repo);
      return name;
    }
  }
}

/**
 * `…/attempt-3` → 3; worktrees orc did not name that way get a dated name instead. Wall time, not the
 * run's Clock: the name must differ from every branch an earlier daemon made, which a clock a test
 * starts at 0 would repeat.
 */
export function attemptOfPath(path: string): string {
  const match = /^attempt-(\d+)$/.exec(basename(path));
  return match ? match[1]! : `recovered-${Date.now()}`;
}

export interface GcOptions {
  /** The state directory: orc's worktrees live under its `worktrees/`. */
  home: string;
  /** Only this repository's; by default those of every repository with worktrees in the state directory. */
  repo?: string;
  /** Runs still going (a live daemon owns them): their worktrees are in use and are left alone. */
  liveRuns?: ReadonlySet<string>;
  /**
   * Runs not finished while no daemon runs (a crash, a stop): the daemon resumes them when it starts, each
   * interrupted attempt's session in its worktree, so those stay; an agent a crash left running in one is
   * stopped.
   */
  resumableRuns?: ReadonlySet<string>;
}

export interface GcResult {
  removed: RemovedWorktree[];
  /** Worktrees left alone because their run is live, or resumes there when the daemon starts. */
  inUse: { path: string; runId: string }[];
  /** Folders under the state directory whose repository is gone: their files are the only copy, so they stay. */
  orphaned: string[];
}

/**
 * After a crash, for every run that is over or gone: each worktree on an `orc/<runId>-tasks/*` branch or in
 * the state directory's `worktrees/` is removed, its work kept on the attempt branch first. Works from
 * any directory: the repositories are found from the worktrees themselves.
 */
export async function gcWorktrees(options: GcOptions): Promise<GcResult> {
  const result: GcResult = { removed: [], inUse: [], orphaned: [] };
  const root = await realpath(statePaths(options.home).worktrees).catch(() => undefined);
  const repos = new Set<string>();
  if (options.repo !== undefined) {
    const top = existsSync(options.repo)
      ? await git(['rev-parse', '--show-toplevel'], options.repo, { okExitCodes: [128] })
      : undefined;
    if (top === undefined || top.exitCode !== 0) {
      throw new OrcError(
        'CONFIG_INVALID',
        `${options.repo} is not a git repository; pass --workdir <repo>, or leave it out to clean every repository`,
      );
    }
    repos.add(top.stdout.trim());
  } else if (root !== undefined) {
    for (const folder of await attemptFolders(root)) {
      const repo = await repositoryOf(folder);
      if (repo === undefined) result.orphaned.push(folder);
      else repos.add(repo);
    }
  }
  for (const repo of repos) await gcRepository(repo, root, options, result);
  if (root !== undefined) await removeEmptyFolders(root);
  return result;
}

async function gcRepository(
  repo: string,
  root: string | undefined,
  { liveRuns, resumableRuns }: GcOptions,
  result: GcResult,
): Promise<void> {
  for (const worktree of await listWorktrees(repo)) {
    const owner = worktree.branch ? parseTaskBranch(worktree.branch) : undefined;
    const folderRun = root === undefined ? undefined : runOfWorktreeFolder(root, worktree.path);
    if (!owner && folderRun === undefined) continue;
    const runId = owner?.runId ?? folderRun!;
    if (liveRuns?.has(runId)) {
      // Its agent may be writing in it right now; removing it would stop the agent and fail the attempt.
      result.inUse.push({ path: worktree.path, runId });
      continue;
    }
    if (resumableRuns?.has(runId)) {
      await stopLeftoverAgent(worktree.path);
      result.inUse.push({ path: worktree.path, runId });
      continue;
    }
    if (!owner) {
      // Detached or renamed: orc made it, but it belongs to no task branch; keep its work under a gc name
      // (dated by the wall clock, as attemptOfPath's names are, so it never repeats an earlier one).
      const name = `orc/gc-${Date.now()}`;
      result.removed.push(await removeWorktreeKeepingWork(repo, worktree, name, name, KEPT_MESSAGE));
      continue;
    }
    const attemptBranch = orcBranches.attempt(owner.runId, owner.taskComponent, attemptOfPath(worktree.path));
    result.removed.push(
      await removeWorktreeKeepingWork(
        repo,
        worktree,
        attemptBranch,
        orcBranches.integration(owner.runId),
        KEPT_MESSAGE,
      ),
    );
  }
  await git(['worktree', 'prune'], repo);
}

/** `<root>/<repo-id>/<runId>/<task>/attempt-<n>`: every attempt folder under the worktree root. */
async function attemptFolders(root: string): Promise<string[]> {
  const folders: string[] = [];
  let level = [root];
  for (let depth = 0; depth < 4; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) if (entry.isDirectory()) next.push(join(dir, entry.name));
    }
    level = next;
  }
  folders.push(...level);
  return folders;
}

/** The main working tree of the repository a worktree folder belongs to; undefined when it is gone. */
async function repositoryOf(folder: string): Promise<string | undefined> {
  try {
    const commonDir = await gitLine(['rev-parse', '--path-format=absolute', '--git-common-dir'], folder);
    const main = (await listWorktrees(commonDir))[0];
    return main?.path ?? commonDir;
  } catch (error) {
    if (error instanceof GitError) return undefined;
    throw error;
  }
}

/** Folders left empty under the worktree root (runs and repositories whose worktrees all went). */
async function removeEmptyFolders(root: string): Promise<void> {
  for (const repoDir of await readdir(root).catch(() => [])) {
    const repoPath = join(root, repoDir);
    for (const runDir of await readdir(repoPath).catch(() => [])) {
      const runPath = join(repoPath, runDir);
      for (const taskDir of await readdir(runPath).catch(() => [])) {
        await rmdir(join(runPath, taskDir)).catch(() => undefined);
      }
      await rmdir(runPath).catch(() => undefined);
    }
    await rmdir(repoPath).catch(() => undefined);
  }
}

/** `<root>/<repo-id>/<runId>/…` → the run id; undefined for a folder orc did not make. */
function runOfWorktreeFolder(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  const runId = rel.split(sep)[1];
  return runId === undefined || runId === '' ? undefined : runId;
}

export const KEPT_MESSAGE = 'orc: work left in a worktree when it was removed';
