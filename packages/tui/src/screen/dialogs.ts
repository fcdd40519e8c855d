import blessed from 'blessed';
import { layoutChoices } from './choice-list.js';

/**
 * The screen's small dialogs over the run: a text to read, a list to choose from, a yes/no question.
 * Each takes the keys while it is open and tells its caller when it closes; the caller keeps its own
 * keys quiet meanwhile.
 */

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

/** A scrollable text (help, a task's detail); `onClose` runs once Esc, q, Enter or ? closes it. */
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
 * A list to choose from, as wide as its choices where the screen has room; resolves with the index chosen
 * (↑↓ and Enter, or the item's key in `keys` when it has one), or undefined on Esc.
 */
export function pickFrom(
  screen: blessed.Widgets.Screen,
  label: string,
  items: string[],
  keys: readonly string[] = [],
): Promise<number | undefined> {
  return new Promise((resolve) => {
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
    let chosen = false;
    const done = (index: number | undefined) => {
      if (chosen) return;
      chosen = true;
      screen.removeListener('resize', refit);
      list.destroy();
      resolve(index);
    };
    list.on('select', (_item, index) => done(index));
    list.on('keypress', (ch: string | undefined) => {
      const index = ch === undefined ? -1 : keys.indexOf(ch);
      if (index >= 0) done(index);
    });
    list.key(['escape', 'q'], () => done(undefined));
    list.focus();
    screen.render();
  });
}

/**
 * A line to type (a search), over the bottom of the screen, holding `initial`; resolves with what was
 * typed on Enter, or undefined on Esc.
 */
export function askLine(
  screen: blessed.Widgets.Screen,
  label: string,
  initial: string,
): Promise<string | undefined> {
  return new Promise((resolve) => {
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
    prompt.readInput((_error: unknown, value?: string | null) => {
      prompt.destroy();
      screen.render();
      resolve(value ?? undefined);
    });
  });
}

/** A question in red (`content` is markup); resolves true on y, false on n, Esc, q or Enter. */
export function askYesNo(screen: blessed.Widgets.Screen, label: string, content: string): Promise<boolean> {
  return new Promise((resolve) => {
    const box = blessed.box({
      parent: screen,
      top: 'center',
      left: 'center',
      width: Math.min(60, (screen.width as number) - 4),
      height: 5,
      border: { type: 'line' },
      style: { border: { fg: 'red' } },
      label,
      tags: true,
      content,
    });
    const answer = (_ch: unknown, key: { name?: string; full?: string }) => {
      const name = key.full ?? key.name ?? '';
      if (!['y', 'n', 'escape', 'q', 'enter'].includes(name)) return;
      screen.removeListener('keypress', answer);
      box.destroy();
      resolve(name === 'y');
    };
    // Registered on the next tick so the key that opened the question does not answer it.
    setImmediate(() => screen.on('keypress', answer));
    screen.render();
  });
}
