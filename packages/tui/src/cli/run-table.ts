import { damagedRunFix, damageText } from './output.js';
import { localTime, quotaWaitText, runWorkMs, type RunSummary, simulatedLabel } from '@orc/shared';
import { formatCost, formatDuration } from '../screen/format.js';
import { cellWidth, fitCells, oneLine, truncateCells } from '../screen/text-cells.js';

/** The goal's room when the output is not a terminal (a pipe, a file): lines stay greppable. */
const GOAL_CELLS_OFF_TERMINAL = 60;
const MIN_GOAL_CELLS = 20;

interface Column {
  title: string;
  align: 'left' | 'right';
  cell: (run: RunSummary, now: number) => string;
}

const COLUMNS: Column[] = [
  { title: 'ID', align: 'left', cell: (run) => run.id },
  { title: 'STATUS', align: 'left', cell: (run, now) => statusText(run, now) },
  { title: 'AGE', align: 'right', cell: (run, now) => formatAge(now - Date.parse(run.createdAt)) },
  {
    title: 'TIME',
    align: 'right',
    cell: (run, now) => formatDuration(runWorkMs(run, now)),
  },
  { title: 'COST', align: 'right', cell: (run) => formatCost(run.costUsd) },
  { title: 'FORECAST', align: 'right', cell: (run, now) => forecastText(run, now) },
  { title: 'DONE', align: 'right', cell: (run) => `${run.taskCounts['done'] ?? 0}/${run.taskTotal}` },
];

/**
 * `orc ls` as a table: every column as wide as its widest cell, numbers right-aligned, the goal last and
 * cut to the terminal's width (`width`), with the SIMULATED label kept.
 */
export function runTable(runs: readonly RunSummary[], now: number, width?: number): string[] {
  const cells = runs.map((run) => COLUMNS.map((column) => column.cell(run, now)));
  const widths = COLUMNS.map((column, i) =>
    Math.max(cellWidth(column.title), ...cells.map((row) => cellWidth(row[i]!))),
  );
  const line = (row: string[]) =>
    row.map((text, i) => fitCells(text, widths[i]!, COLUMNS[i]!.align)).join('  ');
  const fixed = widths.reduce((sum, w) => sum + w + 2, 0);
  const goalRoom =
    width === undefined ? GOAL_CELLS_OFF_TERMINAL : Math.max(MIN_GOAL_CELLS, width - fixed - 1);
  return [
    `${line(COLUMNS.map((column) => column.title))}  GOAL`,
    ...runs.flatMap((run, r) => {
      const label = simulatedLabel(run);
      const goal = truncateCells(oneLine(run.goal), Math.max(1, goalRoom - label.length));
      const row = `${line(cells[r]!)}  ${goal}${label}`;
      // A damaged run, or one waiting for its disk, says what is wrong on a line of its own.
      const room = Math.max(20, (width ?? 112) - 2);
      // Its fix on a line of its own: after the file's path and reason, a terminal's width cut it off.
      if (run.status === 'damaged' && run.damage)
        return [
          row,
          `  ${truncateCells(damageText(run.damage, run.status), room)}`,
          `  ${truncateCells(damagedRunFix(run.id), room)}`,
        ];
      if (run.status === 'paused' && run.pauseReason === 'storage' && run.pauseMessage !== undefined)
        return [row, `  ${truncateCells(oneLine(run.pauseMessage), room)}`];
      return [row];
    }),
  ];
}

/**
 * The run's status in words; a run waiting for its quota says until when (`waiting for quota until
 * 14:05`), a paused one why, as `orc show` says it (`paused (budget)`, `paused (held)`, `paused (user)`):
 * a bare `paused` left a person to guess whether to wait, raise the budget or answer something.
 */
export function statusText(run: RunSummary, now: number): string {
  if (run.status === 'paused' && run.pauseReason === 'quota' && run.resumeAt !== undefined)
    return quotaWaitText(run.resumeAt, now);
  if (run.status === 'paused' && run.pauseReason !== undefined) return `paused (${run.pauseReason})`;
  return run.status.replaceAll('_', ' ');
}

/**
 * Where a live run is heading: its expected total cost and the time it should finish, `-` when unknown.
 * The forecast is made as tasks settle: a task that runs long leaves its finish time behind the clock,
 * and a time already past read as when the run would end; it reads `overdue` then. Once every task is
 * settled the run finishes with its final review, which reads as such (a trial's `$0.024 overdue`
 * alarmed while the review was being written).
 */
export function forecastText(run: Pick<RunSummary, 'forecast' | 'status'>, now: number): string {
  const { forecast } = run;
  if (!forecast) return '-';
  const { finishAt } = forecast;
  const when =
    run.status === 'reviewing'
      ? ' final review'
      : finishAt === undefined
        ? ''
        : Date.parse(finishAt) <= now
          ? ' overdue'
          : ` ${localTime(finishAt)}`;
  return `${formatCost(forecast.costUsd)}${when}`;
}

/**
 * How long ago, at TIME's precision under a day (0.4s, 45s, 12m05s, 3h07m), so a run's AGE never reads
 * less than its TIME beside it (a trial saw AGE 1m beside TIME 1m30s: one unit, rounded down); then in
 * days and hours (3d07h), or weeks and days (2w3d).
 */
export function formatAge(ms: number): string {
  const DAY = 86_400_000;
  if (!(ms >= DAY)) return formatDuration(Math.max(0, ms));
  const hours = Math.floor(ms / 3_600_000);
  const days = Math.floor(hours / 24);
  if (days < 14) return `${days}d${String(hours % 24).padStart(2, '0')}h`;
  return `${Math.floor(days / 7)}w${days % 7}d`;
}
