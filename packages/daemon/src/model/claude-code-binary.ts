import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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
