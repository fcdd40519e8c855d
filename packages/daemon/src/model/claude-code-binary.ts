import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ModelError } from './model-error.js';

/**
 * The Claude Code binary the Agent SDK bundles for this machine, in its optional platform package
 * (`@anthropic-ai/claude-agent-sdk-linux-x64`, …), or undefined when that package is not installed. For
 * `orc doctor`; the SDK finds it by itself when it runs.
 */
export function bundledClaudeCode(): { package: string; path: string | undefined } {
  const musl =
    process.platform === 'linux' &&
    (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
      ?.glibcVersionRuntime === undefined;
  const name = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}${musl ? '-musl' : ''}`;
  try {
    // Resolved from the SDK's own folder, where npm puts its optional dependencies.
    const require = createRequire(createRequire(import.meta.url).resolve('@anthropic-ai/claude-agent-sdk'));
    const dir = dirname(require.resolve(`${name}/package.json`));
    const path = join(dir, process.platform === 'win32' ? 'claude.exe' : 'claude');
    return { package: name, path: existsSync(path) ? path : undefined };
  } catch {
    return { package: name, path: undefined };
  }
}

/**
 * `claude_cli.command` as an executable path: a path as given, a bare name looked up on PATH; undefined
 * when unset (the Agent SDK then runs the binary it bundles).
 */
export function resolveClaudeCommand(
  command: string | undefined,
  path: string | undefined,
): string | undefined {
  if (command === undefined) return undefined;
  const candidates = command.includes('/')
    ? [resolve(command)]
    : (path ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '' && isAbsolute(dir))
        .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new ModelError(
    'permanent',
    `the claude command was not found (claude_cli.command = ${command}); install Claude Code or unset claude_cli.command to use the one the Agent SDK bundles`,
  );
}
