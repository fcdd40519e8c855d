import { simulatedLabel, simulatedSpendNote } from '@orc/shared';
import type { ReasonGroup, ReworkRate, RunModels, RunReport, RunsReport, Spend } from '@orc/shared';
import { formatCost, formatDuration, formatTokens, plural } from '../screen/format.js';
import { oneLine, plainText, truncateCells } from '../screen/text-cells.js';

/** Task rows printed; `--json` and `--html` have them all. */
const MOST_TASK_ROWS = 40;
const REASON_CELLS = 90;
/** Rows of each rework-rate table (by model, by kind of task); `--json` has them all. */
const MOST_RATE_ROWS = 8;

/** `orc report <run>`: outcome, rates and reasons, spend, time, then every task and the latest feedback. */
export function runReportLines(report: RunReport): string[] {
  const { spend, time } = report;
  const simulated = simulatedLabel(report);
  const counts = Object.entries(report.taskCounts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  const lines = [
    `run ${report.runId} ${report.status}${simulated}: ${truncateCells(oneLine(report.goal), 80)}`,
    `tasks: ${report.taskTotal} (${counts || 'none'})`,
    `reviews: ${report.reviews.accept} accepted, ${report.reviews.rework} sent back, ${report.reviews.fail} failed by the manager; ` +
      `rework rate ${percent(report.reworkRate)}`,
    `failures: ${failuresText(report)}`,
    ...reasonLines('rework reasons', report.reworkReasons),
    ...reasonLines('failure reasons', report.failureReasons),
    `spend: ${spendText(spend.total)} — manager ${spendText(spend.manager)}, workers ${spendText(spend.workers)}`,
    ...spend.byModel.map((m) => `  ${m.model} (${m.roles.join(', ')}): ${spendText(m)}`),
    ...notSpentLine(report.models),
    `time: makespan ${formatDuration(time.makespanMs)}, critical path ${formatDuration(time.criticalPathMs)}` +
      ` (${time.criticalPath.length} task${time.criticalPath.length === 1 ? '' : 's'}), ` +
      `worker utilisation ${percent(time.utilisation)} of ${report.maxWorkers}`,
  ];
  if (report.ratings.average !== undefined)
    lines.push(`ratings: ${report.ratings.count}, average ${report.ratings.average.toFixed(1)}/5`);
  const idWidth = Math.min(16, Math.max(4, ...report.tasks.map((t) => t.id.length)));
  const withLines = report.tasks.some((t) => t.lines !== undefined);
  // The numbers right-aligned, each column as wide as its widest cell ("$0.00072" is 8 characters).
  const shown = report.tasks.slice(0, MOST_TASK_ROWS);
  const numbers = shown.map((task) => [
    String(task.attempts),
    formatCost(task.spend.costUsd),
    formatTokens(task.spend.usage.inputTokens + task.spend.usage.outputTokens),
    formatDuration(task.workMs),
  ]);
  const headings = ['tries', 'cost', 'tokens', 'work'];
  const widths = headings.map((h, i) => Math.max(h.length, ...numbers.map((cells) => cells[i]!.length)));
  const numberCells = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  lines.push(
    `  ${'task'.padEnd(idWidth)}  ${'status'.padEnd(9)}  ${numberCells(headings)}${withLines ? '  lines' : ''}`,
  );
  shown.forEach((task, row) => {
    const changed = task.lines ? `  +${task.lines.added}/-${task.lines.removed}` : withLines ? '  -' : '';
    lines.push(
      `${task.onCriticalPath ? '*' : ' '} ${truncateCells(task.id, idWidth).padEnd(idWidth)}  ${task.status.padEnd(9)}  ` +
        `${numberCells(numbers[row]!)}${changed}`,
    );
  });
  if (report.tasks.length > MOST_TASK_ROWS)
    lines.push(`  … ${report.tasks.length - MOST_TASK_ROWS} more (--json or --html has them all)`);
  if (time.criticalPath.length > 0) lines.push('  * on the critical path');
  lines.push(...undoneLine(report));
  const latest = report.feedback.filter((f) => f.kind !== 'accept').slice(-10);
  if (latest.length > 0) {
    lines.push('feedback (latest):');
    for (const entry of latest) {
      const what = entry.kind === 'rating' ? `rated ${entry.score}/5` : entry.kind.replace('_', ' ');
      const where = entry.taskId !== undefined ? ` ${entry.taskId}` : '';
      const text = entry.text ? `: ${truncateCells(oneLine(plainText(entry.text)), REASON_CELLS)}` : '';
      lines.push(`  ${entry.at.slice(0, 19).replace('T', ' ')} ${what}${where}${text}`);
    }
  }
  return lines;
}

/** `orc report --since 7d`: the runs, spend, rework rates by model and kind of task, top reasons. */
export function runsReportLines(report: RunsReport): string[] {
  const statuses = Object.entries(report.byStatus)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  const lines = [
    `since ${report.since.slice(0, 16).replace('T', ' ')}: ${report.runs.length} run${report.runs.length === 1 ? '' : 's'}${statuses ? ` (${statuses})` : ''}${unreadableText(report)}, spend ${spendText(report.spend)}${simulatedSpendText(report)}`,
    ...rateLines('rework by worker model', report.reworkByModel),
    ...rateLines('rework by kind of task', report.reworkByKind),
    ...reasonLines('failure reasons', report.failureReasons),
    ...reasonLines('rework reasons', report.reworkReasons),
  ];
  if (report.runs.length > 0) lines.push('runs:');
  for (const run of report.runs) {
    lines.push(
      `  ${run.id}  ${run.status.padEnd(10)} ${formatCost(run.costUsd).padStart(7)}  ${String(run.tasks).padStart(4)} ${run.tasks === 1 ? 'task ' : 'tasks'}  rework ${percent(run.reworkRate).padStart(4)}  ${truncateCells(oneLine(run.goal), 50)}${run.models ? simulatedLabel({ models: run.models }) : ''}`,
    );
  }
  for (const run of report.unreadable) lines.push(`  ${run.id}  could not be read: ${oneLine(run.reason)}`);
  return lines;
}

/** Runs left out of the counts because their files could not be read: listed last, counted up top. */
function unreadableText(report: RunsReport): string {
  const left = report.unreadable.length;
  return left === 0 ? '' : ` and ${left} that could not be read (listed below)`;
}

/** Tries are a task's attempts as `orc show` lists them; what a rollback undid is counted in cost and work. */
function undoneLine(report: RunReport): string[] {
  const undone = report.tasks.filter((t) => (t.undoneAttempts ?? 0) > 0);
  if (undone.length === 0) return [];
  const count = undone.reduce((sum, t) => sum + (t.undoneAttempts ?? 0), 0);
  const ids =
    undone
      .slice(0, 5)
      .map((t) => t.id)
      .join(', ') + (undone.length > 5 ? ', …' : '');
  return [
    `  cost and work include ${count} attempt${count === 1 ? '' : 's'} a rollback undid (${ids}), not in tries`,
  ];
}

/**
 * The tasks failed now, and the failures before that are not, by what became of the task since (retried
 * or rolled back, skipped, cancelled): beside "0 failed", "3× permanent error" under the failure reasons
 * read as a contradiction, and a skipped task's failure read as retried.
 */
export function failuresText(report: Pick<RunReport, 'taskCounts' | 'failureRate' | 'failures'>): string {
  const now = report.taskCounts['failed'] ?? 0;
  const failures = report.failures;
  const since = failures?.since ?? 0;
  const skipped = failures?.skipped ?? 0;
  const cancelled = failures?.cancelled ?? 0;
  const became = [
    ['retried or rolled back', since - skipped - cancelled],
    ['skipped', skipped],
    ['cancelled', cancelled],
  ] as const;
  const parts = became.filter(([, n]) => n > 0);
  const what =
    parts.length === 1
      ? parts[0]![0]
      : parts.map(([how, n]) => `${how} (${n})`).join(parts.length === 2 ? ' or ' : ', ');
  const earlier =
    since > 0
      ? `; ${plural(since, 'earlier failure')}, of ${since === 1 ? 'a task' : 'tasks'} since ${what} (in the reasons)`
      : '';
  return `${plural(now, 'task')} failed (failure rate ${percent(report.failureRate)})${earlier}`;
}

function reasonLines(title: string, groups: readonly ReasonGroup[]): string[] {
  if (groups.length === 0) return [];
  return [
    `${title}:`,
    ...groups
      .slice(0, 5)
      .map(
        (g) =>
          `  ${String(g.count).padStart(3)}× ${truncateCells(oneLine(plainText(g.reason)), REASON_CELLS)}`,
      ),
  ];
}

function rateLines(title: string, rates: readonly ReworkRate[]): string[] {
  if (rates.length === 0) return [];
  const more = rates.length - MOST_RATE_ROWS;
  return [
    `${title}:`,
    ...rates
      .slice(0, MOST_RATE_ROWS)
      .map(
        (r) =>
          `  ${truncateCells(r.key, 40).padEnd(40)} ${percent(r.rate).padStart(4)} of ${r.reviewed} reviewed`,
      ),
    ...(more > 0 ? [`  … ${more} more (--json has them all)`] : []),
  ];
}

/**
 * A simulated model's tokens are priced as a real model's would be, and nothing is paid for them: said
 * under a run's spend, as the demo says it, so "$0.02" is not read as money gone.
 */
function notSpentLine(models: RunModels): string[] {
  const note = simulatedSpendNote(models);
  return note === undefined ? [] : [`  ${note}`];
}

/** The window's spend, of which what simulated runs came to: nothing was spent on that part. */
function simulatedSpendText(report: RunsReport): string {
  const simulated = report.simulatedCostUsd ?? 0;
  if (simulated <= 0) return '';
  // Summed apart (a run's manager and workers, not its total): equal but for rounding when all is simulated.
  if (simulated >= report.spend.costUsd - 1e-9)
    return ', all simulated tokens at real prices: nothing was spent';
  return `, of which ${formatCost(simulated)} simulated tokens at real prices: not spent`;
}

function spendText(spend: Spend): string {
  const { inputTokens, outputTokens } = spend.usage;
  return `${formatCost(spend.costUsd)} (${formatTokens(inputTokens)} in, ${formatTokens(outputTokens)} out)`;
}

export function percent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}
