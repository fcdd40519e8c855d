import { TASK_PAGE_LIMIT, type TaskPage, type TaskRecord } from '@orc/shared';
import type { RowWant } from './attach-state.js';
import type { TaskQuery } from './task-filter.js';

/**
 * How old the rows of a filtered large run may be while the run moves: a task that fails joins the
 * `failed` rows within a second, and the daemon matches 100,000 tasks in about 4 ms a page.
 */
const REFRESH_MS = 1000;

/**
 * The rows of a large run's table under a filter (a status, a search): a window of the matching tasks
 * around the cursor, from `tasks.page` with the query, as the daemon had them. The matching set moves
 * with the run (a task that fails joins `failed`, one that is retried leaves it), which events of rows
 * not held cannot say: the window is asked for again once events came and REFRESH_MS went by.
 */
export class FilteredRows {
  private query: TaskQuery | undefined;
  private page: TaskPage | undefined;
  private fetchedAt = 0;
  /** Events came since the page was answered. */
  private moved = false;

  /** A new filter (or none): its rows are still to come. */
  reset(query: TaskQuery | undefined): void {
    this.query = query;
    this.page = undefined;
    this.moved = false;
  }

  /** A page answered for `query`; one for an older query is dropped. */
  take(page: TaskPage, query: TaskQuery | undefined, now = Date.now()): void {
    if (query !== this.query) return;
    this.page = page;
    this.fetchedAt = now;
    this.moved = false;
  }

  /** Events came: which tasks match may have changed. */
  runMoved(): void {
    this.moved = true;
  }

  /** How many tasks match, once the first page told it. */
  get total(): number | undefined {
    return this.page?.total;
  }

  rowAt(row: number): TaskRecord | undefined {
    const page = this.page;
    return page === undefined ? undefined : page.tasks[row - page.offset];
  }

  /** The rows to ask for to show `first` and the `height` rows after it, or undefined when they are here. */
  want(first: number, height: number, now = Date.now()): RowWant | undefined {
    if (this.query === undefined) return undefined;
    const page = this.page;
    const total = page?.total ?? first + height;
    const end = Math.min(total, first + height);
    const shows = { offset: first, limit: Math.max(1, end - first) };
    const held = page !== undefined && first >= page.offset && end <= page.offset + page.tasks.length;
    const stale = this.moved && now - this.fetchedAt >= REFRESH_MS;
    if (held && !stale) return undefined;
    // Two screens either side, as for the whole table: PageUp and PageDown show rows already here.
    const side = Math.max(0, Math.min(2 * height, Math.floor((TASK_PAGE_LIMIT - height) / 2)));
    const offset = Math.max(0, first - side);
    const limit = Math.max(1, Math.min(TASK_PAGE_LIMIT, end + side - offset));
    return { window: { offset, limit }, shows, query: this.query };
  }
}
