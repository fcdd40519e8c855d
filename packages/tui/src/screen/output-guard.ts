/**
 * While the screen is up, nothing but the screen may write to the terminal: a stray line from a library
 * (a warning, a deprecation notice, a debug print) would tear the UI. Writes to stderr and console
 * output are handed to `onText` instead (the screen shows them in its event pane) until `restore()`.
 */
/* eslint-disable no-console, @typescript-eslint/unbound-method -- this swaps console and stderr out and back */
export function guardTerminalOutput(onText: (text: string) => void): { restore(): void } {
  const stderrWrite = process.stderr.write;
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  const capture = (chunk: unknown): void => {
    const text =
      typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
    if (text.trim() !== '') onText(text.trimEnd());
  };
  process.stderr.write = (chunk: unknown, ...rest: unknown[]) => {
    capture(chunk);
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  };
  for (const m of methods) console[m] = (...args: unknown[]) => capture(args.map(String).join(' '));
  return {
    restore() {
      process.stderr.write = stderrWrite;
      methods.forEach((m, i) => (console[m] = saved[i]!));
    },
  };
}
