import { fileWaits, formatCount } from '@orc/shared';
import type { AttachState } from './attach-state.js';
import { renderTableHeader, renderTaskRow, tableColumns } from './task-table.js';
import { escapeTags } from './text-cells.js';

/**
 * The task table as blessed markup: its header row, then the rows that fit in `rows` (the cursor's
 * inverted), a row of a large run not fetched yet as `…`; or what the table has instead of rows.
 */
export function tableMarkup(state: AttachState, width: number, rows: number, now: number): string {
  const view = state.view;
  if (view === undefined) return '';
  // Asked first, also of an empty table: the rows a filter shows are asked for here.
  const { first, tasks } = state.visibleTasks(rows - 1);
  const matching = state.matchCount();
  if (matching?.shown === undefined && matching !== undefined) return ' {gray-fg}Filtering…{/gray-fg}';
  if (matching?.shown === 0)
    return ' No task matches the filter: f shows another status, / another search, Esc every task.';
  if (state.total === 0)
    return view.status === 'analyzing' ? ' The manager is planning the tasks…' : ' No tasks.';
  const cols = tableColumns(width, state.longestId);
  const waits = fileWaits(view.tasks);
  const out = [`{bold}${escapeTags(renderTableHeader(cols))}{/bold}`];
  tasks.forEach((task, i) => {
    // A row of a large run not fetched yet: it arrives within a frame or two.
    const row =
      task === undefined ? '{gray-fg}…{/gray-fg}' : renderTaskRow(task, cols, now, waits.get(task.id));
    out.push(first + i === state.selected ? `{inverse}${row}{/inverse}` : row);
  });
  return out.join('\n');
}

/**
 * The table's label without a filter names the keys that find tasks: the key line, filled by the keys
 * that act, leaves them out below 160 columns.
 */
export const TABLE_LABEL = ' Tasks · / search · f filter ';

/** ` Tasks: failed · "auth" (12 of 1,500) `: the table's label says what its filter shows. */
export function tableLabel(state: AttachState): string {
  const filter = state.filter.describe();
  const count = state.matchCount();
  if (filter === undefined || count === undefined) return TABLE_LABEL;
  const shown = count.shown === undefined ? '…' : formatCount(count.shown);
  return ` Tasks: ${filter} (${shown} of ${formatCount(count.of)}) `;
}
