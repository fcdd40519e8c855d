import blessed from 'blessed';
import { layoutChoices } from './choice-list.js';
import { cellWidth } from './text-cells.js';

/**
 * The screen's small dialogs over the run: a text to read, a list to choose from, a yes/no question.
 * Each takes the keys from the moment it opens (a key typed right after the one that opened it is its
 * own, not lost) and tells its caller when it closes; the caller keeps its own keys quiet meanwhile.
 */

/** A key as blessed tells it; the same object reaches every listener of one key press. */
export type Key = { name?: string; full?: string };

/** A box over most of the screen, its border in `colour`: an overlay, the inbox. */
export function panelBox(
  screen: blessed.Widgets.Screen,
  colour: string,
  options: blessed.Widgets.BoxOptions,
): blessed.Widgets.BoxElement {
  return blessed.box({
    parent: screen,
    top: 'center',
    left: 'center',
    width: '90%',
    height: '90%',
    border: { type: 'line' },
    style: { border: { fg: colour } },
    ...options,
  });
}

/** A scrollable text (help, a task's detail), drawn at once; `onClose` runs once Esc, q, Enter or ? closes it. */
export function openOverlay(
  screen: blessed.Widgets.Screen,
  label: string,
  content: string,
  onClose: () => void,
): blessed.Widgets.BoxElement {
  const box = panelBox(screen, 'cyan', {
    label: `${label}(Esc closes, arrows scroll) `,
    tags: true,
    content,
    scrollable: true,
    alwaysScroll: true,
    keys: true,
    vi: true,
    scrollbar: { ch: ' ', style: { bg: 'cyan' } },
  });
  box.key(['escape', 'q', 'enter', '?'], () => {
    box.destroy();
    onClose();
  });
  box.focus();
  screen.render();
  return box;
}

/**
 * A list to choose from, as wide as its choices where the screen has room, drawn at once; `chosen` is
 * called with the index chosen (↑↓ and Enter, or the item's key in `keys` when it has one), or undefined
 * on Esc.
 */
export function pickFrom(
  screen: blessed.Widgets.Screen,
  label: string,
  items: string[],
  keys: readonly string[],
  chosen: (index: number | undefined) => void,
): void {
  const layout = () =>
    layoutChoices(label, items, { width: screen.width as number, height: screen.height as number });
  const first = layout();
  const list = blessed.list({
    parent: screen,
    top: 'center',
    left: 'center',
    width: first.width,
    height: first.height,
    border: { type: 'line' },
    label,
    items: first.items,
    tags: true,
    keys: true,
    vi: true,
    style: { selected: { inverse: true }, border: { fg: 'cyan' } },
  });
  // A list wider than the terminal made narrower is not drawn at all: it is fitted again.
  const refit = () => {
    const again = layout();
    list.width = again.width;
    list.height = again.height;
    list.setItems(again.items);
  };
  screen.on('resize', refit);
  let closed = false;
  const done = (index: number | undefined) => {
    if (closed) return;
    closed = true;
    screen.removeListener('resize', refit);
    list.destroy();
    chosen(index);
  };
  list.on('select', (_item, index) => done(index));
  list.on('keypress', (ch: string | undefined) => {
    const index = ch === undefined ? -1 : keys.indexOf(ch);
    if (index >= 0) done(index);
  });
  list.key(['escape', 'q'], () => done(undefined));
  list.focus();
  screen.render();
}

/**
 * A line to type (a search), over the bottom of the screen, holding `initial`; `typed` is called with
 * what was typed on Enter, or undefined on Esc.
 */
export function askLine(
  screen: blessed.Widgets.Screen,
  label: string,
  initial: string,
  typed: (value: string | undefined) => void,
): void {
  const prompt = blessed.textbox({
    parent: screen,
    bottom: 1,
    left: 0,
    width: '100%',
    height: 3,
    border: { type: 'line' },
    style: { border: { fg: 'cyan' } },
    label,
    value: initial,
    inputOnFocus: false,
  });
  prompt.focus();
  screen.render();
  readLine(prompt, (value) => {
    prompt.destroy();
    screen.render();
    typed(value);
  });
}

/**
 * `textbox.readInput`, keeping the keys typed before it listens: blessed starts listening on the next
 * turn of the loop, and keys read in the same chunk as the one that opened the box (a quick typist, a
 * loaded machine) were lost. They are held and given to it once it listens. `done` gets the line on
 * Enter, undefined on Esc.
 */
export function readLine(
  textbox: blessed.Widgets.TextboxElement,
  done: (value: string | undefined) => void,
): void {
  const early: [string | undefined, Key][] = [];
  const hold = (ch: string | undefined, key: Key) => early.push([ch, key]);
  textbox.on('keypress', hold);
  textbox.readInput((_error: unknown, value?: string | null) => done(value ?? undefined));
  // Queued after readInput's own start, so it runs once the box listens.
  setImmediate(() => {
    textbox.removeListener('keypress', hold);
    for (const [ch, key] of early) textbox.emit('keypress', ch, key);
  });
}

/**
 * A question in red (`content` is markup), listening from the moment it opens; `answered` is called with
 * true on y or Enter, false on n, Esc or q, and the key that answered it.
 */
export function askYesNo(
  screen: blessed.Widgets.Screen,
  label: string,
  content: string,
  answered: (yes: boolean, key: Key) => void,
): void {
  const width = Math.min(60, (screen.width as number) - 4);
  // As tall as its text wrapped in the box.
  const rows = content
    .split('\n')
    .reduce((sum, line) => sum + Math.max(1, Math.ceil(cellWidth(blessed.stripTags(line)) / (width - 2))), 0);
  const box = blessed.box({
    parent: screen,
    top: 'center',
    left: 'center',
    width,
    height: Math.min(rows + 2, screen.height as number),
    border: { type: 'line' },
    style: { border: { fg: 'red' } },
    label,
    tags: true,
    content,
  });
  const answer = (_ch: unknown, key: Key) => {
    const name = key.full ?? key.name ?? '';
    if (!['y', 'n', 'escape', 'q', 'enter'].includes(name)) return;
    screen.removeListener('keypress', answer);
    box.destroy();
    // Only y: a stray Enter must not cancel a run or skip a task.
    answered(name === 'y', key);
  };
  // The key that opened the question is told to the screen's keypress listeners before the handler
  // that opens it runs: it does not answer it.
  screen.on('keypress', answer);
  screen.render();
}
