import type { Command } from 'commander';
import { UsageError } from './cli-error.js';

/*
 * HOOK for the terminal UI: `orc attach [run]` belongs to the TUI, which lands later. It should replace
 * this registration (same name and arguments) with one that opens the blessed screen on the run.
 */
export function registerAttachCommand(program: Command): void {
  program
    .command('attach')
    .description('open the terminal UI on a run (not available yet)')
    .argument('[run]', 'run id')
    .option('--json', 'print one JSON document')
    .action((runId: string | undefined) => {
      throw new UsageError(
        `the terminal UI is not available yet; follow the run with orc logs ${runId ?? '<run>'} --follow`,
      );
    });
}
