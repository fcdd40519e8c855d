import { spawn } from 'node:child_process';

/** What one run of `integration.verify` said. */
export interface VerifyOutcome {
  passed: boolean;
  /** null when it was killed (a timeout, a stop). */
  exitCode: number | null;
  timedOut: boolean;
  /** The shell could not run it at all (126: not executable, 127: not found): no change can fix that. */
  cannotRun: boolean;
  /** The end of its stdout and stderr together, as they came. */
  tail: string;
  durationMs: number;
}

export interface VerifyOptions {
  timeoutMs: number;
  /** Kills it early (the daemon stops); it then counts as neither passed nor the change's fault. */
  signal?: AbortSignal;
  tailBytes?: number;
  env?: NodeJS.ProcessEnv;
}

/** After a kill, how long the pipes may stay open (a grandchild that left the group holds them). */
const PIPE_GRACE_MS = 1000;

/**
 * Runs a verify command with `sh -c` in `cwd`, in a process group of its own, so a timeout kills what it
 * started too (`npm test` → node → workers), not just the shell.
 */
export function runVerify(command: string, cwd: string, options: VerifyOptions): Promise<VerifyOutcome> {
  const tailBytes = options.tailBytes ?? 4000;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      cwd,
      env: options.env ?? verifyEnvironment(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = Buffer.alloc(0);
    const keep = (chunk: Buffer) => {
      output = Buffer.concat([output, chunk]);
      if (output.length > tailBytes * 2) output = output.subarray(output.length - tailBytes);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    let settled = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    const onAbort = () => killGroup();
    if (options.signal?.aborted) killGroup();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (exitCode: number | null, spawnError?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      let tail = output.subarray(Math.max(0, output.length - tailBytes)).toString('utf8');
      if (spawnError) tail = `${tail}${spawnError.message}`;
      if (timedOut) tail = `${tail}\n(killed: integration.verify ran past its ${options.timeoutMs / 1000} s)`;
      resolve({
        passed: exitCode === 0 && !timedOut,
        exitCode,
        timedOut,
        cannotRun: spawnError !== undefined || exitCode === 126 || exitCode === 127,
        tail,
        durationMs: Date.now() - started,
      });
    };
    child.on('error', (error) => finish(null, error));
    child.on('close', (code) => finish(code));
    child.on('exit', (code) => {
      // Whatever it left running in its group goes too; 'close' normally follows at once.
      killGroup();
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code);
      }, PIPE_GRACE_MS).unref();
    });
  });
}

/** The daemon's environment without what would point git in the verify at another repository. */
function verifyEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_PREFIX'])
    delete env[name];
  return env;
}

/** A failed verify in one line, for the journal and a pause message. */
export function verifyReason(outcome: VerifyOutcome, timeoutSeconds: number): string {
  const last =
    outcome.tail
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('(killed:'))
      .at(-1) ?? '';
  if (outcome.timedOut) return `timed out after ${timeoutSeconds} s`;
  const code = outcome.exitCode === null ? 'was killed' : `exited ${outcome.exitCode}`;
  return last ? `${code}: ${last.slice(0, 200)}` : code;
}
