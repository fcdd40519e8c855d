/**
 * The command's stdout and stderr in a pipe. Writes to a pipe are asynchronous once its buffer (64 KiB
 * on Linux) is full, so exiting right after the last write cut `orc show <run> --json | wc -c` at
 * 65,536 bytes: the command waits for both streams to drain before it exits. A reader that stops early
 * (`orc logs <run> | head -1`) is not an error either: the command ends quietly, as other tools do.
 */

/** Resolves once everything written to stdout and stderr so far has been handed to the OS. */
export async function flushOutput(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
}

/** Ends the process with the exit code so far (0 if none) as soon as the reader of its output goes away. */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
}

function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  // Writes complete in order: the callback of an empty write runs once the ones before it are out.
  return new Promise((resolve) => stream.write('', () => resolve()));
}
