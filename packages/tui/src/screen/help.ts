import { ROLLBACK_STRATEGY_SUMMARY, RollbackStrategy } from '@orc/shared';
import { cellWidth } from './text-cells.js';

/** The footer's keys, most needed first; those that do not fit are left to `?` (the help overlay). */
const KEY_HINTS: readonly string[] = [
  '↑↓ move',
  'Enter detail',
  'i inbox',
  'p pause/resume',
  'x cancel',
  'r retry',
  's skip',
  'X cancel task',
  '/ search',
  'f filter',
  '* rate',
  'c checkpoint',
  'b rollback',
  'Tab next run',
];
const ALWAYS = ['? help', 'q detach'];
/** Keys that act on a run: a damaged run takes none of them (a trial's p read "pause failed: … damaged"). */
const ACTING = new Set([
  'p pause/resume',
  'x cancel',
  'r retry',
  's skip',
  'X cancel task',
  'c checkpoint',
  'b rollback',
]);
const GAP = '  ';

/**
 * The key line for a terminal `width` cells wide: as many hints as fit, in order, then `? help` and
 * `q detach`, which always show (`? more keys` when some were left out). A damaged run's line leaves out
 * the keys that would act on it.
 */
export function keyHints(width: number, options: { damaged?: boolean } = {}): string {
  const hints = options.damaged ? KEY_HINTS.filter((hint) => !ACTING.has(hint)) : KEY_HINTS;
  const line = (shownHints: readonly string[], more: boolean) =>
    ` ${[...shownHints, more ? '? more keys' : ALWAYS[0]!, ALWAYS[1]!].join(GAP)}`;
  let shown = hints.length;
  while (shown > 0 && cellWidth(line(hints.slice(0, shown), shown < hints.length)) > width) shown--;
  return line(hints.slice(0, shown), shown < hints.length);
}

export const HELP_TEXT = [
  '{bold}Moving{/bold}',
  '  ↑ ↓ or k j     select a task (PgUp, PgDn, g/Home, G/End jump)',
  '  Enter          the selected task: description, dependencies, every attempt, review feedback',
  '  Tab            switch to the next run of the daemon',
  '',
  '{bold}What waits for you{/bold}',
  '  i              the inbox: what waits for you in every run, this one first (the header counts it)',
  '                 ↑ ↓ choose an item, its choice key answers it (asking for a note where needed)',
  '',
  '{bold}Acting on the run{/bold}',
  '  p              pause the run, or resume it when it is paused',
  '  c              save a checkpoint now',
  '  b              roll back: choose a checkpoint, then how',
  ...RollbackStrategy.options.map(
    (strategy) => `                 ${strategy.padEnd(10)} ${ROLLBACK_STRATEGY_SUMMARY[strategy]}`,
  ),
  '                 (selective resets the selected task)',
  '  r              retry the selected task (failed, blocked, skipped or cancelled)',
  '  s              skip the selected task (asks first): what depends on it goes on once its own dependencies are done',
  '  X              cancel the selected task (asks first): its attempt stops, and it waits until you edit, retry',
  '                 or skip it (s: what depends on it goes on without it)',
  '                 (orc task edit|add|rm change the plan from the command line)',
  "  *              rate the selected task's work: 5 to 1, or ↑↓ Enter (shown in orc report)",
  '  x              cancel the run (asks first)',
  '',
  "{bold}Finding tasks{/bold} (the table's label shows the filter and how many tasks match)",
  '  /              search ids and titles (case-insensitive): Enter applies, Esc clears the search',
  '  f              show only: all → failed → running → waiting → done → skipped/cancelled → all',
  '  Esc            every task again (no filter, no search)',
  '',
  '{bold}Leaving{/bold}',
  '  q              detach: the run goes on in the daemon; orc attach <run> comes back',
  '  Ctrl-C         same as q',
  '',
  'Errors in the event pane carry their kind: {yellow-fg}[TRANSIENT]{/yellow-fg} (retried by itself),',
  '{yellow-fg}[RECOVERABLE]{/yellow-fg} (retried with more room), {red-fg}[PERMANENT]{/red-fg} (needs you: i shows how to answer).',
].join('\n');
