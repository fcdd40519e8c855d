import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { configJsonSchema, findConfigProblems, loadConfig } from '@orc/shared';
import { daemonStatus } from '@orc/daemon/client';
import type { Command } from 'commander';
import { EXIT, UsageError } from './cli-error.js';
import { awaitingRestartText, settingsAwaitingRestart } from './daemon-start-settings.js';
import { emit, printJson } from './output.js';

/** `orc config show|validate|schema`: the configuration as this directory and environment resolve it. */
export function registerConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description('show or validate the configuration, or print its JSON Schema');

  config
    .command('show')
    .description('the resolved configuration (defaults < user config < ./orc.config.json < ORC_* env)')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const loaded = loadConfig();
      const apiKey = loaded.apiKey ? 'set' : 'not set';
      const status = await daemonStatus();
      const awaitingRestart = status.running
        ? settingsAwaitingRestart(status.home, status.info.startedAt)
        : [];
      emit(options, { config: loaded.config, sources: loaded.sources, apiKey, awaitingRestart }, () => [
        JSON.stringify(loaded.config, null, 2),
        `sources: ${loaded.sources.length ? loaded.sources.join(', ') : 'defaults and environment only'}`,
        `ANTHROPIC_API_KEY: ${apiKey}${loaded.config.models.provider === 'simulated' ? ' (runs use the SIMULATED provider)' : ''}`,
        ...awaitingRestart.map((pending) => `note: ${awaitingRestartText(pending)}`),
      ]);
    });

  config
    .command('validate')
    .description('check the configuration (or one file); lists every mistake, each naming its file and key')
    .argument('[file]', 'a config file to check on its own')
    .option('--json', 'print one JSON document')
    .action((file: string | undefined, options: { json?: boolean }) => {
      const path = file === undefined ? undefined : resolve(file);
      if (path !== undefined && !existsSync(path))
        throw new UsageError(`${path}: no such file; give the config file to check`);
      const { sources, problems } = findConfigProblems(path === undefined ? {} : { files: [path] });
      const valid = problems.length === 0;
      if (options.json) printJson({ valid, sources, problems });
      else if (valid)
        process.stdout.write(
          path !== undefined
            ? `${path} is valid\n`
            : `configuration is valid (${sources.length ? sources.join(', ') : 'defaults only'})\n`,
        );
      // One line per mistake, so every one of them can be fixed in one go.
      else for (const problem of problems) process.stderr.write(`orc: ${problem}\n`);
      if (!valid) process.exitCode = EXIT.usage;
    });

  config
    .command('schema')
    .description('the JSON Schema of the config file, for editors')
    .option('--json', 'print one JSON document (the schema is JSON either way)')
    .action(() => printJson(configJsonSchema()));
}
