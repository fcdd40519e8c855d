import { type ErrorCode, isOrcError } from '@orc/shared';
import { CommanderError } from 'commander';

/** A mistake in how a command was called; shown as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that ran but did not succeed (a failed run): its message is shown, exit code 1 unless given. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  daemon: 5,
  /** `orc run` followed a run that stopped short of completing and waits for you (paused, a plan to approve). */
  paused: 6,
  internal: 70,
} as const;

const EXIT_OF_ORC_CODE: Record<ErrorCode, number> = {
  CONFIG_INVALID: EXIT.usage,
  TASK_FILE_INVALID: EXIT.usage,
  PLAN_INVALID: EXIT.failed,
  RUN_NOT_FOUND: EXIT.notFound,
  TASK_NOT_FOUND: EXIT.notFound,
  CHECKPOINT_NOT_FOUND: EXIT.notFound,
  INVALID_STATE: EXIT.conflict,
  UNAUTHORIZED: EXIT.daemon,
  DAEMON_NOT_RUNNING: EXIT.daemon,
  DAEMON_ALREADY_RUNNING: EXIT.conflict,
  MODEL_ERROR: EXIT.failed,
  STORE_ERROR: EXIT.failed,
  LIMIT_EXCEEDED: EXIT.usage,
  ITEM_NOT_FOUND: EXIT.notFound,
  INVALID_CHOICE: EXIT.usage,
  BACKEND_UNREACHABLE: EXIT.daemon,
};

const EXIT_OF_TRPC_CODE: Record<string, number> = {
  BAD_REQUEST: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  CONFLICT: EXIT.conflict,
  UNAUTHORIZED: EXIT.daemon,
  PAYLOAD_TOO_LARGE: EXIT.usage,
  TOO_MANY_REQUESTS: EXIT.usage,
};

/**
 * Commander's usage error (`error: unknown option '--bogus'`, a hint on the next line) as every other
 * error of ours reads: one line after `orc: `. `command` (`orc ls`) is the one whose help lists the rest.
 */
export function usageErrorLine(text: string, command = 'orc'): string {
  const [first = '', ...rest] = text
    .trim()
    .replace(/^error: /, '')
    .split('\n');
  const hint = rest.join(' ').trim();
  if (hint) return `orc: ${first} ${hint.replace(/^\(Did/, '(did')}\n`;
  // A command or option that is not there, with no near one to suggest: where the real ones are listed.
  const unknown = /^unknown (command|option)/.test(first);
  return `orc: ${first}${unknown ? `; see ${command} --help` : ''}\n`;
}

/** Any error to the one line the user sees and the exit code; the single place the CLI decides this. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CommanderError)
    return { message: '', exitCode: error.exitCode === 0 ? 0 : EXIT.usage };
  if (error instanceof UsageError) return { message: error.message, exitCode: EXIT.usage };
  if (error instanceof CommandFailed) return { message: error.message, exitCode: error.exitCode };
  if (isOrcError(error)) return { message: error.message, exitCode: EXIT_OF_ORC_CODE[error.code] };
  if (error instanceof Error && error.name === 'TRPCClientError') {
    // The daemon's error shape: tRPC's code plus ours in `data.orcCode` (see the daemon's rpc/trpc.ts).
    const data = (error as { data?: { code?: string; orcCode?: ErrorCode } }).data ?? undefined;
    const exitCode =
      data?.orcCode !== undefined
        ? EXIT_OF_ORC_CODE[data.orcCode]
        : data?.code !== undefined
          ? (EXIT_OF_TRPC_CODE[data.code] ?? EXIT.failed)
          : EXIT.daemon;
    const message =
      data === undefined ? `lost the connection to the daemon (${error.message})` : error.message;
    return { message, exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `internal error: ${message}`, exitCode: EXIT.internal };
}
