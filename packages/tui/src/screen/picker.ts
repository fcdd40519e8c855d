import blessed from 'blessed';
import { escapeTags } from './text-cells.js';

/**
 * A list in the middle of the screen to choose one line from; resolves with the index chosen, or
 * undefined on Esc (or q). The list is gone by the time it resolves.
 */
export function pickFrom(
  screen: blessed.Widgets.Screen,
  label: string,
  items: readonly string[],
): Promise<number | undefined> {
  return new Promise((resolve) => {
    const list = blessed.list({
      parent: screen,
      top: 'center',
      left: 'center',
      width: Math.min(90, (screen.width as number) - 4),
      height: Math.min(items.length + 2, (screen.height as number) - 4),
      border: { type: 'line' },
      label,
      items: items.map((i) => escapeTags(i)),
      tags: true,
      keys: true,
      vi: true,
      style: { selected: { inverse: true }, border: { fg: 'cyan' } },
    });
    const done = (index: number | undefined) => {
      list.destroy();
      resolve(index);
    };
    list.on('select', (_item, index) => done(index));
    list.key(['escape', 'q'], () => done(undefined));
    list.focus();
    screen.render();
  });
}
