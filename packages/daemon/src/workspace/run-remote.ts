import { isAbsolute, resolve } from 'node:path';
import { OrcError } from '@orc/shared';
import { ModelError } from '../model/model-error.js';
import { git, GitError, gitLine } from './git.js';
import { fullRef, orcBranches } from './orc-branches.js';

/** Pushes and fetches cross a network: ten minutes, not git.ts's one (a large repository's first push). */
const NETWORK_TIMEOUT_MS = 10 * 60_000;

/**
 * The git remote of a run whose agents work on other machines (`orc worker`): the daemon pushes the
 * integration head there before each attempt, the workers fetch it, work, and push their task branches
 * there, and the daemon fetches each task's pushed commit back into its repository, where the merge
 * train merges it as it does local work. Each side uses its own machine's git credentials; the URL
 * that crosses the wire carries none.
 */
export class RunRemote {
  /** The integration commit last pushed, so an unchanged head is not pushed again. */
  private published: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: string,
    private readonly runId: string,
    /** What workers clone and push to. */
    readonly url: string,
  ) {}

  /** The branch on the remote that holds the integration head workers start from. */
  get baseBranch(): string {
    return orcBranches.integration(this.runId);
  }

  /** Pushes `head` (the integration head) to the remote's `orc/<runId>`, moving it back after a rollback too. */
  publish(head: string): Promise<void> {
    const result = this.queue.then(async () => {
      if (this.published === head) return;
      await this.network(
        ['push', '--quiet', '--force', this.url, `${head}:${fullRef(this.baseBranch)}`],
        'push to',
      );
      this.published = head;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Fetches `commit`, which a worker pushed to `branch`, into the repository. */
  async fetch(branch: string, commit: string): Promise<void> {
    const incoming = `refs/orc-incoming/${branch}`;
    await this.network(
      ['fetch', '--quiet', '--no-tags', this.url, `+${fullRef(branch)}:${incoming}`],
      'fetch from',
    );
    if (
      (await git(['cat-file', '-e', `${commit}^{commit}`], this.repo, { okExitCodes: [1, 128] })).exitCode ===
      0
    )
      return;
    // The branch moved on since (another push over it): ask for the commit itself.
    await git(['fetch', '--quiet', '--no-tags', this.url, commit], this.repo, {
      timeoutMs: NETWORK_TIMEOUT_MS,
      okExitCodes: [1, 128],
    });
    if (
      (await git(['cat-file', '-e', `${commit}^{commit}`], this.repo, { okExitCodes: [1, 128] })).exitCode !==
      0
    )
      throw new ModelError(
        'transient',
        `the commit ${commit.slice(0, 12)} a worker pushed to ${branch} is not on ${this.url}; the attempt is made again`,
      );
  }

  private async network(args: string[], what: string): Promise<void> {
    try {
      await git(args, this.repo, { timeoutMs: NETWORK_TIMEOUT_MS });
    } catch (error) {
      if (!(error instanceof GitError)) throw error;
      const said = error.stderr.trim().split('\n').at(-1) ?? '';
      throw new ModelError(
        'transient',
        `the daemon could not ${what} ${this.url}${said ? ` (${said})` : ''}; check its access to the remote`,
      );
    }
  }
}

/**
 * The remote a repository run on the Redis backend uses: `configured` (`repository.remote`, default
 * `origin`) is a remote of the repository by name, or a URL or path. A relative path is made absolute,
 * a password in an https URL is dropped (the workers use their own credentials), and the daemon checks
 * it can reach it. One clear line otherwise, naming the fix; nothing is changed.
 */
export async function resolveRunRemote(workdir: string, configured: string): Promise<string> {
  const top = await gitLine(['rev-parse', '--show-toplevel'], workdir).catch(() => undefined);
  if (top === undefined)
    throw new OrcError(
      'CONFIG_INVALID',
      `${workdir} is not a git repository; run orc in a repository or pass --workdir <repo>`,
    );
  const named = await git(['remote', 'get-url', configured], top, { okExitCodes: [2, 128] });
  let url = named.exitCode === 0 ? named.stdout.trim() : undefined;
  if (url === undefined && looksLikeUrl(configured)) url = configured;
  if (url === undefined)
    throw new OrcError(
      'CONFIG_INVALID',
      `${top} has no git remote "${configured}" for orc workers on other machines to fetch and push; add one (git remote add ${configured === 'origin' ? 'origin' : configured} <url>) or name a remote or URL with --remote (repository.remote)`,
    );
  url = withoutPassword(isLocalPath(url) && !isAbsolute(url) ? resolve(top, url) : url);
  const reached = await git(['ls-remote', '--quiet', url, 'HEAD'], top, {
    // A remote that does not answer should not keep `orc run` waiting for minutes (an SSH host that drops
    // packets takes the system's connect timeout, ~2 min); 20 s is ample for a listing of one ref.
    timeoutMs: 20_000,
    okExitCodes: [1, 2, 128],
  }).catch((error: unknown) => {
    if (error instanceof GitError) return { exitCode: -1, stderr: error.stderr };
    throw error;
  });
  if (reached.exitCode !== 0) {
    // git's first `fatal:` line says what is wrong; its last line is boilerplate ("…and the repository exists.").
    const lines = reached.stderr.trim().split('\n');
    const said = (lines.find((line) => line.startsWith('fatal: ')) ?? lines.at(-1) ?? '').replace(
      /^fatal: /,
      '',
    );
    throw new OrcError(
      'CONFIG_INVALID',
      `the daemon cannot reach the git remote ${url}${said ? ` (${said})` : ''}; fix the daemon machine's access to it, or name another with --remote (repository.remote)`,
    );
  }
  return url;
}

/** `https://…`, `ssh://…`, `file://…`, `git@host:path`, or a path. */
function looksLikeUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^[^/\s]+@[^/\s]+:/.test(value) || isLocalPath(value);
}

function isLocalPath(value: string): boolean {
  return value.startsWith('/') || value.startsWith('./') || value.startsWith('../');
}

/** A password (or token) in an http(s) URL stays on this machine: workers bring their own. */
function withoutPassword(url: string): string {
  if (!/^https?:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
