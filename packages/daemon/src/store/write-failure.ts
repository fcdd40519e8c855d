/** A write of the state directory that failed: which file, and why, in a line a person can act on. */
export interface WriteFailure {
  /** The run whose file it was; absent for the index. */
  runId?: string;
  file: string;
  /** The errno code when there is one (ENOSPC, EFBIG, EIO, EROFS, …). */
  code?: string;
  message: string;
}

/** Why a write fails, for the codes a full, limited or broken disk gives. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'file size limit reached (ulimit -f)',
  EROFS: 'the file system is read-only',
  EIO: 'the disk reported an input/output error',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

export function writeFailureOf(file: string, error: unknown, runId?: string): WriteFailure {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const why =
    (code !== undefined ? REASONS[code] : undefined) ??
    (error instanceof Error ? error.message : String(error));
  return {
    ...(runId !== undefined && { runId }),
    file,
    ...(code !== undefined && { code }),
    // The reason first: a one-line listing that cuts the line keeps it.
    message: `${why}${code !== undefined && REASONS[code] ? ` (${code})` : ''}: cannot write ${file}; runs wait and go on by themselves once it can be written`,
  };
}

/**
 * A document or checkpoint was not written because the journal does not yet hold every event it
 * reflects (the journal's own write failed, or the store closed): not a failure of its own.
 */
export class JournalBehindError extends Error {
  override readonly name = 'JournalBehindError';
  constructor(
    readonly eventId: number,
    override readonly cause: unknown,
  ) {
    super(
      `the journal does not hold event ${eventId} yet: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}
