import type { TaskRecord } from '@orc/shared';

/**
 * Rows of a large run's table the screen holds, which need not be next to each other (the rows around
 * the cursor, the first and the last ones): `tasks` in the run's order, `rows[i]` the table row of
 * `tasks[i]`, ascending.
 */
export interface HeldRows {
  rows: number[];
  tasks: TaskRecord[];
}

/** Where `row` is in `rows` (ascending), or -1. */
export function indexOfRow(rows: readonly number[], row: number): number {
  let low = 0;
  let high = rows.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const at = rows[mid]!;
    if (at === row) return mid;
    if (at < row) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/**
 * The rows held once a page of rows from `offset` came: the page's rows in place of the ones held there,
 * and of the others those `keep` says the screen still wants.
 */
export function mergeRows(
  held: HeldRows,
  offset: number,
  page: readonly TaskRecord[],
  keep: (row: number) => boolean,
): HeldRows {
  const end = offset + page.length;
  const rows: number[] = [];
  const tasks: TaskRecord[] = [];
  let i = 0;
  const keepHeld = (until: number) => {
    for (; i < held.rows.length && held.rows[i]! < until; i++) {
      const row = held.rows[i]!;
      if ((row < offset || row >= end) && keep(row)) {
        rows.push(row);
        tasks.push(held.tasks[i]!);
      }
    }
  };
  keepHeld(offset);
  page.forEach((task, j) => {
    rows.push(offset + j);
    tasks.push(task);
  });
  keepHeld(Infinity);
  return { rows, tasks };
}
