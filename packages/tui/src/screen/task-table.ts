import { describeFileWait, type FileWait, type TaskRecord } from '@orc/shared';
import { formatDuration, taskTimeMs } from './format.js';
import { TASK_STATUS_COLOR, colored } from './status-style.js';
import { escapeTags, fitCells, oneLine } from './text-cells.js';

/** Column widths of the task table; the title takes what the others leave. */
export interface TableColumns {
  id: number;
  title: number;
  status: number;
  worker: number;
  attempts: number;
  duration: number;
}

const STATUS_WIDTH = 9;
const WORKER_WIDTH = 6;
const ATTEMPTS_WIDTH = 4;
const DURATION_WIDTH = 7;
const MIN_TITLE = 8;

/** Fits the columns to `width` cells; `longestId` is the longest task id, capped so titles keep room. */
export function tableColumns(width: number, longestId: number): TableColumns {
  const fixed = STATUS_WIDTH + WORKER_WIDTH + ATTEMPTS_WIDTH + DURATION_WIDTH + 5; // five single-space gaps
  const id = Math.max(2, Math.min(longestId, 16, width - fixed - MIN_TITLE));
  return {
    id,
    title: Math.max(0, width - fixed - id),
    status: STATUS_WIDTH,
    worker: WORKER_WIDTH,
    attempts: ATTEMPTS_WIDTH,
    duration: DURATION_WIDTH,
  };
}

export function renderTableHeader(cols: TableColumns): string {
  return [
    fitCells('ID', cols.id),
    fitCells('TITLE', cols.title),
    fitCells('STATUS', cols.status),
    fitCells('WORKER', cols.worker),
    fitCells('ATT', cols.attempts, 'right'),
    fitCells('TIME', cols.duration, 'right'),
  ].join(' ');
}

/**
 * One task as a table row of exactly the table's width, status coloured, as blessed markup. A ready task
 * waiting for another's files says so before its title, in yellow.
 */
export function renderTaskRow(task: TaskRecord, cols: TableColumns, now: number, wait?: FileWait): string {
  const ms = taskTimeMs(task, now);
  const worker = task.worker !== undefined && task.startedAt !== undefined ? `w${task.worker}` : '-';
  const waits = wait === undefined ? '' : `${describeFileWait(wait)} · `;
  const title = fitCells(`${waits}${oneLine(task.title)}`, cols.title);
  const waitCells = Math.min(waits.length, title.length);
  return [
    escapeTags(fitCells(task.id, cols.id)),
    waitCells === 0
      ? escapeTags(title)
      : `${colored('yellow', escapeTags(title.slice(0, waitCells)))}${escapeTags(title.slice(waitCells))}`,
    colored(TASK_STATUS_COLOR[task.status], fitCells(task.status, cols.status)),
    fitCells(worker, cols.worker),
    fitCells(String(task.attempts.length), cols.attempts, 'right'),
    fitCells(ms === undefined ? '-' : formatDuration(ms), cols.duration, 'right'),
  ].join(' ');
}

/**
 * Which slice of the table is on screen: keeps `selected` visible and moves the window as little as
 * possible, so a table of thousands of tasks draws only the rows that fit.
 */
export function scrollWindow(total: number, selected: number, offset: number, height: number): number {
  if (height <= 0 || total <= height) return 0;
  let top = Math.min(Math.max(0, offset), total - height);
  if (selected < top) top = selected;
  if (selected >= top + height) top = selected - height + 1;
  return Math.max(0, Math.min(top, total - height));
}
