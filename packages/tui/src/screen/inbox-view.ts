import type { InboxItem } from '@orc/shared';
import { formatDuration } from './format.js';
import type { WaitingCount } from './inbox-feed.js';
import { colored } from './status-style.js';
import {
  cellWidth,
  escapeTags,
  fitCells,
  oneLine,
  plainText,
  truncateCells,
  wrapCells,
} from './text-cells.js';

export interface InboxViewInput {
  /** Open items, in the order shown. */
  items: InboxItem[];
  selected: number;
  /** The run on screen. */
  runId: string;
  now: number;
  /** Cells inside the panel's border. */
  width: number;
  height: number;
  /** What the last key did: an answer sent, refused, a key that answers nothing. */
  status?: { level: 'info' | 'warn' | 'error'; text: string } | undefined;
  /** Why the inbox cannot be followed now. */
  error?: string | undefined;
  /** The items are not listed yet. */
  loading?: boolean;
}

const STATUS_COLOR = { info: 'green', warn: 'yellow', error: 'red' } as const;

/**
 * The inbox panel as blessed markup: a summary line, one row per open item (type, run and task, how long
 * it has waited, what is asked), then the selected item whole: its question, the keys that answer it,
 * what the last key did, and its detail (the plan, the command, the error) in the rows left.
 */
export function renderInbox(input: InboxViewInput): string {
  const { items, width, height, now } = input;
  const lines: string[] = [];
  const here = items.filter((item) => item.runId === input.runId).length;
  lines.push(
    items.length === 0
      ? input.loading
        ? '{bold}Loading the inbox…{/bold}'
        : '{bold}Nothing waits for you.{/bold}'
      : `{bold}${escapeTags(summary(items.length, here))}{/bold}`,
  );
  if (input.error !== undefined)
    lines.push(
      colored(
        'red',
        escapeTags(truncateCells(`Cannot follow the inbox (${oneLine(input.error)}); retrying.`, width)),
      ),
    );
  const selected = items[input.selected];
  if (selected !== undefined) {
    lines.push('');
    const rows = Math.min(items.length, Math.max(3, Math.floor((height - 10) / 2)));
    const first = Math.max(0, Math.min(input.selected - Math.floor(rows / 2), items.length - rows));
    // As wide as the longest run/task shown, within reason: the question gets the rest.
    const whereWidth = Math.min(24, Math.max(8, ...items.map((item) => cellWidth(whereOf(item)))));
    const itemRow = ([id, type, where, waited, question]: string[]) =>
      `${fitCells(id!, 5)} ${fitCells(type!, 13)} ${fitCells(where!, whereWidth)} ${fitCells(waited!, 7)} ${question!}`;
    lines.push(
      `{bold}${escapeTags(fitCells(itemRow(['ID', 'TYPE', 'RUN/TASK', 'WAITED', 'WHAT IS ASKED']), width))}{/bold}`,
    );
    for (const [i, item] of items.slice(first, first + rows).entries()) {
      const row = escapeTags(
        fitCells(
          itemRow([
            item.id,
            item.type,
            whereOf(item),
            formatDuration(now - Date.parse(item.openedAt)),
            oneLine(item.question),
          ]),
          width,
        ),
      );
      lines.push(first + i === input.selected ? `{inverse}${row}{/inverse}` : row);
    }
    if (items.length > rows) lines.push(colored('gray', `(${items.length - rows} more: ↑↓)`));
    lines.push('', ...selectedLines(selected, width, now));
  }
  if (input.status !== undefined)
    lines.push(
      '',
      `{bold}${colored(STATUS_COLOR[input.status.level], escapeTags(truncateCells(oneLine(input.status.text), width)))}{/bold}`,
    );
  const detail = selected?.detail;
  const room = height - lines.length - 1;
  if (detail !== undefined && room > 1) {
    const detailLines = plainText(detail).split('\n');
    const shown = detailLines.slice(0, room - (detailLines.length > room ? 1 : 0));
    lines.push('', ...shown.map((line) => escapeTags(truncateCells(line, width))));
    if (shown.length < detailLines.length)
      lines.push(
        colored('gray', `… ${detailLines.length - shown.length} more lines (orc inbox shows the item)`),
      );
  }
  return lines.join('\n');
}

/** `1 waiting · i` for the header: this run's items, then the other runs'; undefined when none wait. */
export function waitingLabel(count: WaitingCount): string | undefined {
  const others = count.all - count.run;
  if (count.all === 0) return undefined;
  if (others === 0) return `${count.run} waiting · i`;
  if (count.run === 0) return `${others} waiting in other runs · i`;
  return `${count.run} waiting, ${others} in other runs · i`;
}

function summary(all: number, here: number): string {
  const them = all === 1 ? '1 item waits for you' : `${all} items wait for you`;
  if (here === all) return `${them}, in this run`;
  if (here === 0) return `${them}, in other runs`;
  return `${them}: ${here} in this run (listed first), ${all - here} in other runs`;
}

function whereOf(item: InboxItem): string {
  return item.taskId === undefined ? item.runId : `${item.runId}/${item.taskId}`;
}

/** The selected item: where it is, what it asks in full, and the keys that answer it. */
function selectedLines(item: InboxItem, width: number, now: number): string[] {
  const where = [
    `run ${item.runId}`,
    ...(item.taskId === undefined ? [] : [`task ${item.taskId}`]),
    ...(item.attempt === undefined ? [] : [`attempt ${item.attempt}`]),
  ].join(' · ');
  const lines = [`{bold}${escapeTags(truncateCells(`${item.id} ${item.type} · ${where}`, width))}{/bold}`];
  lines.push(...wrapCells(oneLine(item.question), width).map(escapeTags));
  if (item.expiresAt !== undefined)
    lines.push(
      colored(
        'yellow',
        `denied by itself in ${formatDuration(Date.parse(item.expiresAt) - now)} unless answered`,
      ),
    );
  lines.push('');
  for (const choice of item.choices) {
    const text = `${choice.label}${choice.needsNote ? ' (asks for a note)' : ''}`;
    lines.push(
      `  {bold}${escapeTags(choice.key)}{/bold}  ${escapeTags(truncateCells(text, Math.max(0, width - 5)))}`,
    );
  }
  return lines;
}
