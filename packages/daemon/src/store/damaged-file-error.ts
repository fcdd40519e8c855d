import { OrcError } from '@orc/shared';

/**
 * A file of a run that cannot be trusted: a document that does not parse, a journal with a hole or a
 * damaged line. It carries the file and the reason apart, so a run can be shown as `damaged` with both.
 */
export class DamagedFileError extends OrcError {
  /** `reason` reads on from the file's name: "is empty", "has a hole: …". */
  constructor(
    readonly file: string,
    readonly reason: string,
    /** For a hole in a journal: the last id missing, so a read after it goes on past the hole. */
    readonly readsOnAfter?: number,
  ) {
    super('STORE_ERROR', `${file} ${reason}`);
  }
}

export function isDamagedFileError(error: unknown): error is DamagedFileError {
  return error instanceof DamagedFileError;
}
