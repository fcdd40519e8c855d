import * as z from 'zod';
import { LIMITS, tooLongMessage } from './limits.js';
import { RunId } from './rpc.js';
import { TaskRecord, TaskStatus } from './task.js';

/**
 * Most tasks one page holds, and how many a run's view (`runs.get` without `full`) carries: a view of a
 * 100,000-task run is its summary and the first page, not 56 MB. A task without its outputs is about
 * 600 bytes of JSON, so a page is about 300 KB.
 */
export const TASK_PAGE_LIMIT = 500;

/**
 * A page of a run's task table (`tasks.page`): rows in the run's order, from `offset`, optionally only
 * tasks in some statuses and those whose id or title contains `search` (case-insensitive). Without
 * `full`, results and attempt outputs are left out, as in the view; with it, a page whose outputs are
 * large may hold fewer than `limit` rows (continue from `offset + tasks.length` while below `total`).
 */
export const TaskPageInput = z.strictObject({
  runId: RunId,
  offset: z.number().int().nonnegative().default(0),
  limit: z.number().int().positive().max(TASK_PAGE_LIMIT).default(TASK_PAGE_LIMIT),
  status: z.array(TaskStatus).min(1).max(TaskStatus.options.length).optional(),
  search: z.string().trim().min(1).max(LIMITS.labelChars, tooLongMessage(LIMITS.labelChars)).optional(),
  full: z.boolean().optional(),
});
export type TaskPageInput = z.input<typeof TaskPageInput>;
export type TaskQuery = z.output<typeof TaskPageInput>;

export const TaskPage = z.object({
  runId: z.string(),
  /** The last event the page reflects: events after it change these rows. */
  lastEventId: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  /** How many tasks match (every task of the run without `status` and `search`). */
  total: z.number().int().nonnegative(),
  tasks: z.array(TaskRecord),
  /** As a view's `unconfirmed`: tasks done, not yet on disk, shown as reviewing (a full disk only). */
  unconfirmed: z.array(z.string()).optional(),
});
export type TaskPage = z.infer<typeof TaskPage>;

/**
 * Whether a task is one a page asks for: its status, and its id or title containing the search
 * (case-insensitive). Made once per page: at 100,000 tasks lower-casing every id and title for a
 * search took 16 ms of the daemon, a case-insensitive pattern 4 ms.
 */
export function taskMatcher(query: {
  status?: readonly TaskStatus[] | undefined;
  search?: string | undefined;
}): (task: Pick<TaskRecord, 'id' | 'title' | 'status'>) => boolean {
  const statuses = query.status === undefined ? undefined : new Set<string>(query.status);
  const pattern =
    query.search === undefined
      ? undefined
      : new RegExp(query.search.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'iu');
  return (task) =>
    (statuses === undefined || statuses.has(task.status)) &&
    (pattern === undefined || pattern.test(task.id) || pattern.test(task.title));
}
