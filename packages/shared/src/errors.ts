/** Codes every process agrees on; they cross the wire in tRPC error data and pick the CLI's exit code. */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'TASK_FILE_INVALID',
  'PLAN_INVALID',
  'RUN_NOT_FOUND',
  'TASK_NOT_FOUND',
  'CHECKPOINT_NOT_FOUND',
  'INVALID_STATE',
  'UNAUTHORIZED',
  'DAEMON_NOT_RUNNING',
  'DAEMON_ALREADY_RUNNING',
  'MODEL_ERROR',
  'STORE_ERROR',
  /** Input or traffic over one of the documented limits (`LIMITS`, `RPC_LIMITS`). */
  'LIMIT_EXCEEDED',
  /** No such inbox item, or it is closed already (answered, timed out, or no longer applies). */
  'ITEM_NOT_FOUND',
  /** An answer the inbox item does not offer; the message lists the ones it does. */
  'INVALID_CHOICE',
  /** The Redis server of `execution.backend: "redis"` cannot be reached (or refused our credentials). */
  'BACKEND_UNREACHABLE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error a user can act on: its message names the thing and the fix, and it is shown as one line
 * without a stack trace.
 */
export class OrcError extends Error {
  override readonly name = 'OrcError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isOrcError(error: unknown): error is OrcError {
  return error instanceof OrcError;
}
