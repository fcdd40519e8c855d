import type { RunReport, RunsReport } from '@orc/shared';
import { historyError, type RunRegistry } from '../run/run-registry.js';
import { isDamagedFileError } from '../store/damaged-file-error.js';
import type { Run } from '../run/run.js';
import { linesChanged } from './lines-changed.js';
import { RunReportBuilder } from './run-report.js';
import { RunsReportBuilder } from './runs-report.js';

/**
 * One run's report, read from its journal (every event since the start, rollbacks included). A repository
 * run's report counts the lines each done task changed, when `lines` is asked for.
 */
export async function reportRun(run: Run, now: number, lines: boolean): Promise<RunReport> {
  const builder = new RunReportBuilder();
  // Events emitted but not yet written (a rating a moment ago) are in the report too.
  await run.journal.drain();
  try {
    for await (const event of run.deps.store.readEvents(run.id, 0)) builder.add(event);
  } catch (error) {
    // A hole in the journal: the report says what `orc logs` says about it, with the fix.
    throw isDamagedFileError(error) ? historyError(run.id, error) : error;
  }
  // Every task (the view without `full` carries a large run's first page only); the records are the
  // run's own, a settled task's parsed from its text, not copies without their outputs.
  const view = run.view(true);
  const changed =
    lines && run.workdir !== undefined ? await linesChanged(run.workdir, run.id, view.tasks) : undefined;
  return builder.finish(view, now, changed);
}

/** Every run created since `since` (ms), summed up; runs that cannot be read are named, not left out. */
export async function reportRuns(runs: RunRegistry, since: number, now: number): Promise<RunsReport> {
  const builder = new RunsReportBuilder();
  for (const summary of runs.summaries()) {
    if (Date.parse(summary.createdAt) < since) continue;
    if (summary.status === 'damaged') {
      // The damage's reason reads on from its file's name ("is not valid JSON (…)"): said without it, not which file.
      const { damage } = summary;
      builder.skip(summary.id, damage ? `${damage.file} ${damage.reason}` : 'its files could not be read');
      continue;
    }
    try {
      builder.add(await runs.use(summary.id, (run) => reportRun(run, now, false)));
    } catch (error) {
      builder.skip(summary.id, error instanceof Error ? error.message : String(error));
    }
  }
  return builder.finish(since, now);
}
