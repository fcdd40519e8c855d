import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { OrcError } from '@orc/shared';

export interface GitOptions {
  /** Written to git's stdin. */
  input?: string;
  /** Exit codes that are answers rather than failures (`merge-tree` exits 1 on a conflict). */
  okExitCodes?: readonly number[];
  /** Extra environment (a temporary index, a fallback identity). */
  env?: Record<string, string>;
  /** Stdout beyond this is cut off and `truncated` is set; the call is then not an error. */
  maxOutputBytes?: number;
  timeoutMs?: number;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  truncated: boolean;
}

/** A git command that failed: the command, its exit code and what git said, for logs and messages. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `git ${args.join(' ')} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${lastLines(stderr, 3) || 'no message'}`,
    );
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * Settings for every call orc makes. The user's hooks do not run on orc's own commits and checkouts (a
 * failing lint hook must not lose a worker's output), nothing is signed (a pinentry prompt would hang the
 * daemon), and no automatic gc runs while several worktrees are busy.
 */
const FIXED_CONFIG = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'commit.gpgSign=false',
  '-c',
  'gc.auto=0',
  '-c',
  'maintenance.auto=false',
  '-c',
  'core.quotePath=false',
];

/** Runs one git command without a shell, bounded in time and output. */
export function git(args: readonly string[], cwd: string, options: GitOptions = {}): Promise<GitResult> {
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      [...FIXED_CONFIG, ...args],
      {
        cwd,
        env: gitEnvironment(options.env),
        encoding: 'utf8',
        maxBuffer: maxOutputBytes,
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr, exitCode: 0, truncated: false });
          return;
        }
        const failure = error as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
        if (failure.code === 'ENOENT' && typeof failure.syscall === 'string') {
          // A missing working directory fails the spawn with the same code as a missing git.
          if (!existsSync(cwd)) {
            reject(new GitError(args, null, `the directory ${cwd} does not exist`));
            return;
          }
          reject(new OrcError('CONFIG_INVALID', 'git was not found on PATH; install git (2.38 or newer)'));
          return;
        }
        if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          resolve({ stdout: stdout.slice(0, maxOutputBytes), stderr, exitCode: 0, truncated: true });
          return;
        }
        if (failure.killed) {
          reject(new GitError(args, null, `timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`));
          return;
        }
        const exitCode = typeof failure.code === 'number' ? failure.code : null;
        if (exitCode !== null && options.okExitCodes?.includes(exitCode)) {
          resolve({ stdout, stderr, exitCode, truncated: false });
          return;
        }
        reject(new GitError(args, exitCode, stderr));
      },
    );
    // git reads stdin only for some commands; an EPIPE when it does not is harmless.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });
}

/** stdout without its trailing newline: the usual shape of a one-value answer. */
export async function gitLine(args: readonly string[], cwd: string, options?: GitOptions): Promise<string> {
  return (await git(args, cwd, options)).stdout.trimEnd();
}

/** Whether `git <args>` exits 0; any other exit is a "no", a missing git still throws. */
export async function gitSucceeds(args: readonly string[], cwd: string): Promise<boolean> {
  try {
    await git(args, cwd);
    return true;
  } catch (error) {
    if (error instanceof GitError) return false;
    throw error;
  }
}

const MIN_GIT = [2, 38] as const;
let gitVersionChecked: Promise<void> | undefined;

export function requireGitVersion(cwd: string): Promise<void> {
  gitVersionChecked ??= gitLine(['version'], cwd).then((version) => {
    const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
    if (major < MIN_GIT[0] || (major === MIN_GIT[0] && minor < MIN_GIT[1])) {
      throw new OrcError(
        'CONFIG_INVALID',
        `${version} is too old for orc's worktrees; install git ${MIN_GIT.join('.')} or newer`,
      );
    }
  });
  // A missing git is worth asking again about once someone installs it.
  gitVersionChecked.catch(() => (gitVersionChecked = undefined));
  return gitVersionChecked;
}

const identities = new Map<string, Promise<Record<string, string>>>();

/**
 * The identity for orc's own commits: the repository's when it has one, otherwise a stand-in, so a repo
 * without user.name and user.email does not stop a run at its first commit.
 */
export function commitIdentity(repo: string): Promise<Record<string, string>> {
  let identity = identities.get(repo);
  if (!identity) {
    identity = gitSucceeds(['var', 'GIT_COMMITTER_IDENT'], repo).then((configured): Record<string, string> =>
      configured
        ? {}
        : {
            GIT_AUTHOR_NAME: 'orc',
            GIT_AUTHOR_EMAIL: 'orc@localhost',
            GIT_COMMITTER_NAME: 'orc',
            GIT_COMMITTER_EMAIL: 'orc@localhost',
          },
    );
    identities.set(repo, identity);
  }
  return identity;
}

/**
 * The parent's environment without the variables that would point git at another repository or index
 * (set when the daemon itself was started from a git hook), plus the call's own.
 */
function gitEnvironment(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_PREFIX'])
    delete env[name];
  env.GIT_TERMINAL_PROMPT = '0';
  env.LC_ALL = 'C';
  return { ...env, ...extra };
}

function lastLines(text: string, count: number): string {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .join(' / ');
}
