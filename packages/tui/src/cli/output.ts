import { damagedHistoryFix, FINISHED_RUN_STATUSES, simulatedLabel, simulatedSpendNote } from '@orc/shared';
import type { RunDamage, RunStatus, RunSummary } from '@orc/shared';

/** How a command prints: `--json` writes one document to stdout and nothing else. */
export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints the JSON document with `--json`, else the human lines. */
export function emit(options: OutputOptions, json: unknown, human: () => string | string[]): void {
  if (options.json) return printJson(json);
  const lines = human();
  process.stdout.write(`${Array.isArray(lines) ? lines.join('\n') : lines}\n`);
}

/** A run summary as scripts get it: `simulated` at the top so it cannot be missed. */
export function summaryJson<T extends RunSummary>(summary: T): T & { simulated: boolean } {
  return { ...summary, simulated: summary.models.simulated };
}

/** A run's tasks in words: `3/5 done, 1 failed, 1 running`. */
export function formatCounts(summary: RunSummary): string {
  const done = summary.taskCounts['done'] ?? 0;
  const parts = Object.entries(summary.taskCounts)
    .filter(([status, n]) => n > 0 && status !== 'done')
    .map(([status, n]) => `${n} ${status}`);
  return [`${done}/${summary.taskTotal} done`, ...parts].join(', ');
}

/** After a run's cost: ` (simulated tokens at real prices: nothing was spent)` for a simulated run, else empty. */
export function spendNote(run: Pick<RunSummary, 'models'>): string {
  const note = simulatedSpendNote(run.models);
  return note === undefined ? '' : ` (${note})`;
}

export function runLine(summary: RunSummary): string {
  const line = `${summary.id}  ${summary.status.padEnd(10)} ${formatCounts(summary)}  ${truncate(summary.goal, 60)}${simulatedLabel(summary)}`;
  return summary.status === 'damaged' && summary.damage
    ? `${line}\n  ${truncate(damageText(summary.damage, summary.status), 110)}`
    : line;
}

/**
 * A damaged file of a run in one line: the file, what is wrong, and what became of the run: rebuilt,
 * kept as it is (a `damaged` run), or, a journal that cannot be read whole beside a good saved state,
 * run from that state (a trial read "kept as it is and not run" of a live run whose journal ended early).
 */
export function damageText(damage: RunDamage, status: RunStatus): string {
  const what = `${damage.file} ${damage.reason}`;
  if (damage.rebuiltFrom !== undefined) {
    const kept = damage.keptAs === undefined ? '' : `; the damaged file is kept as ${damage.keptAs}`;
    return `rebuilt from ${damage.rebuiltFrom} after ${what}${kept}`;
  }
  if (status === 'damaged') return `damaged: ${what}; the run is kept as it is and not run`;
  const state = FINISHED_RUN_STATUSES.has(status)
    ? 'the run is whole in its saved state'
    : 'the run goes on from its saved state';
  return `journal damaged: ${what}; ${state}, only the events there cannot be read`;
}

/** What a person can do about a run's damage, if anything is left to do (a rebuilt run needs nothing). */
export function damageFix(run: Pick<RunSummary, 'id' | 'status' | 'damage'>): string | undefined {
  if (run.status === 'damaged') return damagedRunFix(run.id);
  if (run.damage === undefined || run.damage.rebuiltFrom !== undefined) return undefined;
  return damagedHistoryFix(run.id, run.damage);
}

/**
 * What a person can do about a damaged run, only what works: the daemon already rebuilt what it could
 * (from each checkpoint and the journal, or the journal alone), and reads the run again at each start.
 */
export function damagedRunFix(runId: string): string {
  return `fix: orc rm ${runId} removes it; or put back a good copy of the file and restart the daemon (orc daemon stop, then orc daemon start) to read it again`;
}

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
