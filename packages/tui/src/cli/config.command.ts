import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configJsonSchema, loadConfig, OrcError, resolveConfig } from '@orc/shared';
import type { Command } from 'commander';
import { emit, printJson } from './output.js';

/** `orc config show|validate|schema`: the configuration as this directory and environment resolve it. */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('show, validate or describe the configuration');

  config
    .command('show')
    .description('the resolved configuration (defaults < user config < ./orc.config.json < ORC_* env)')
    .option('--json', 'print one JSON document')
    .action((options: { json?: boolean }) => {
      const loaded = loadConfig();
      const apiKey = loaded.apiKey ? 'set' : 'not set';
      emit(options, { config: loaded.config, sources: loaded.sources, apiKey }, () => [
        JSON.stringify(loaded.config, null, 2),
        `sources: ${loaded.sources.length ? loaded.sources.join(', ') : 'defaults and environment only'}`,
        `ANTHROPIC_API_KEY: ${apiKey}${loaded.config.models.provider === 'simulated' ? ' (runs use the SIMULATED provider)' : ''}`,
      ]);
    });

  config
    .command('validate')
    .description('check the configuration (or one file); names the key and the file of any mistake')
    .argument('[file]', 'a config file to check on its own')
    .option('--json', 'print one JSON document')
    .action((file: string | undefined, options: { json?: boolean }) => {
      if (file !== undefined) {
        const path = resolve(file);
        let values: unknown;
        try {
          values = JSON.parse(readFileSync(path, 'utf8'));
        } catch (error) {
          throw new OrcError(
            'CONFIG_INVALID',
            `${path}: cannot be read as JSON (${(error as Error).message})`,
          );
        }
        resolveConfig([{ source: path, values }], true);
        emit(options, { valid: true, sources: [path] }, () => `${path} is valid`);
        return;
      }
      const loaded = loadConfig();
      emit(
        options,
        { valid: true, sources: loaded.sources },
        () =>
          `configuration is valid (${loaded.sources.length ? loaded.sources.join(', ') : 'defaults only'})`,
      );
    });

  config
    .command('schema')
    .description('the JSON Schema of the config file, for editors')
    .option('--json', 'print one JSON document (the schema is JSON either way)')
    .action(() => printJson(configJsonSchema()));
}
