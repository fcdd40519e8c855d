import { LIMITS, taskMatcher, type TaskRecord, type TaskStatus } from '@orc/shared';

/** The statuses `f` steps through, as a person asks of a large run: what failed, what runs, what waits. */
const STATUS_FILTERS: readonly { label: string; status?: readonly TaskStatus[] }[] = [
  { label: 'all' },
  { label: 'failed', status: ['failed'] },
  { label: 'running', status: ['running', 'reviewing', 'merging'] },
  { label: 'waiting', status: ['ready', 'pending', 'blocked'] },
  { label: 'done', status: ['done'] },
  { label: 'skipped/cancelled', status: ['skipped', 'cancelled'] },
];

/** What the table is asked for (`tasks.page`'s `status` and `search`). */
export interface TaskQuery {
  status?: TaskStatus[];
  search?: string;
}

/**
 * The task table's filter: a status (`f` cycles it) and a search of ids and titles (`/`), both as
 * `tasks.page` takes them, so a large run is filtered by the daemon rather than fetched whole. Each
 * change is a new `query` object: a page asked for with an older one is not the table's.
 */
export class TaskFilter {
  private at = 0;
  private text: string | undefined;
  private current: TaskQuery | undefined;
  private matches: ((task: TaskRecord) => boolean) | undefined;

  /** The next status filter, back to all after the last. */
  nextStatus(): void {
    this.at = (this.at + 1) % STATUS_FILTERS.length;
    this.changed();
  }

  /** A search of ids and titles (case-insensitive); empty clears it. Longer than a label is cut. */
  search(text: string): void {
    const trimmed = text.trim().slice(0, LIMITS.labelChars);
    this.text = trimmed === '' ? undefined : trimmed;
    this.changed();
  }

  /** Every task again: no status, no search. */
  clear(): void {
    this.at = 0;
    this.text = undefined;
    this.changed();
  }

  get searchText(): string {
    return this.text ?? '';
  }

  /** The query of the table, or undefined when it shows every task. */
  get query(): TaskQuery | undefined {
    return this.current;
  }

  /** Whether the table shows a task. */
  shows(task: TaskRecord): boolean {
    return this.matches === undefined || this.matches(task);
  }

  /** `failed · "auth"`: what the table shows, for its label; undefined for every task. */
  describe(): string | undefined {
    if (this.current === undefined) return undefined;
    const parts: string[] = [];
    if (this.at > 0) parts.push(STATUS_FILTERS[this.at]!.label);
    if (this.text !== undefined) parts.push(`"${this.text}"`);
    return parts.join(' · ');
  }

  private changed(): void {
    const status = STATUS_FILTERS[this.at]!.status;
    if (status === undefined && this.text === undefined) {
      this.current = undefined;
      this.matches = undefined;
      return;
    }
    this.current = {
      ...(status !== undefined && { status: [...status] }),
      ...(this.text !== undefined && { search: this.text }),
    };
    this.matches = taskMatcher(this.current);
  }
}
