import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { RunReport } from '@orc/shared';
import type { Command } from 'commander';
import { reportPage } from '../report/report-page.js';
import { runReportLines, runsReportLines } from '../report/report-text.js';
import { parseAge } from './age-argument.js';
import { CommandFailed, UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { emit } from './output.js';
import { resolveRunRef } from './run-ref.js';

interface ReportOptions {
  since?: string;
  json?: boolean;
  html?: string;
}

/**
 * `orc report <run>`: what a run did and cost, what was reworked and why; `--html FILE` draws it on one
 * page. `orc report --since 7d`: every run of the window summed up.
 */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      "a run's outcome, rework and failure reasons, spend and timeline; or every run --since a time",
    )
    .argument('[run]', 'run id (or a unique prefix, or last)')
    .option('--since <age>', 'every run created in this window instead of one run (30m, 12h, 7d, 2w)')
    .option('--json', 'print one JSON document')
    .option('--html <file>', 'also write the report as one self-contained HTML page (overwritten)')
    .action(async (ref: string | undefined, options: ReportOptions) => {
      if (ref !== undefined && options.since !== undefined)
        throw new UsageError('give either a run or --since, not both');
      if (ref === undefined && options.since === undefined)
        throw new UsageError('give a run (orc report <run>) or a window (orc report --since 7d)');
      if (options.since !== undefined) {
        if (options.html !== undefined)
          throw new UsageError('--html draws one run; give a run instead of --since');
        const sinceMs = parseAge(options.since, '--since');
        await withClient(async (client) => {
          const report = await client.trpc.reports.since.query({ sinceMs: Math.round(sinceMs) });
          emit(options, report, () => runsReportLines(report));
        });
        return;
      }
      await withClient(async (client) => {
        const runId = (await resolveRunRef(client, ref!)).id;
        const report = await client.trpc.reports.run.query({ runId });
        if (options.html !== undefined) {
          const file = await writePage(options.html, report);
          if (!options.json) process.stdout.write(`wrote ${file}\n`);
        }
        emit(options, report, () => runReportLines(report));
      });
    });
}

/** Written beside its final name and renamed over it, so a reader never sees half a page. */
async function writePage(path: string, report: RunReport): Promise<string> {
  const file = resolve(path);
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, reportPage(report), { mode: 0o644 });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    const reason =
      (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new CommandFailed(
      `cannot write the report to ${file} (${reason}); give --html a file in a writable folder`,
      2,
    );
  }
  return file;
}
