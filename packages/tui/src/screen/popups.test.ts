import { PassThrough } from 'node:stream';
import type { InboxItem } from '@orc/shared';
import type blessed from 'blessed';
import { afterEach, describe, expect, it } from 'vitest';
import { createTerminalScreen } from './blessed-terminal.js';
import type { Key } from './dialogs.js';
import type { InboxFeed } from './inbox-feed.js';
import { Popups } from './popups.js';

/**
 * The popups on a real blessed screen whose terminal is in memory: what is typed is written to its input
 * as a terminal would send it, several keys in one chunk as a quick typist or a loaded machine gives
 * them, and what it shows is read from the screen's cells.
 */
interface Terminal {
  screen: blessed.Widgets.Screen;
  popups: Popups;
  /** Writes to the terminal's input and waits until the screen has read it. */
  type(keys: string): Promise<void>;
  text(): string;
  /** Binds `keys` as the screen binds its own: quiet while a popup holds the keys. */
  on(keys: string[], action: () => void): void;
}

const open: Terminal[] = [];
afterEach(() => {
  for (const terminal of open.splice(0)) terminal.screen.destroy();
});

function terminal(): Terminal {
  const input = new PassThrough();
  const output = Object.assign(new PassThrough(), { columns: 100, rows: 30, isTTY: true });
  output.resume();
  const screen = createTerminalScreen({ input, output, env: { TERM: 'xterm-256color', LANG: 'C.UTF-8' } });
  const popups = new Popups(screen, () => screen.render());
  const cells = screen as unknown as { lines: [unknown, string][][] };
  const made: Terminal = {
    screen,
    popups,
    type: async (keys) => {
      input.write(keys);
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
    text: () => cells.lines.map((line) => line.map((cell) => cell[1]).join('')).join('\n'),
    on: (keys, action) =>
      screen.key(keys, (_ch: unknown, key: Key) => {
        if (!popups.holds(key)) action();
      }),
  };
  open.push(made);
  return made;
}

const item = (id: string, over: Partial<InboxItem> = {}): InboxItem => ({
  id,
  type: 'plan_approval',
  runId: 'r1',
  question: `${id}: approve the plan?`,
  choices: [
    { id: 'approve', key: 'a', label: 'approve: the workers start' },
    { id: 'edit', key: 'e', label: 'have the manager change it', needsNote: true },
  ],
  openedAt: `2026-01-01T00:00:0${id.slice(1)}Z`,
  status: 'open',
  ...over,
});

/** An inbox feed in memory: the items open, the answers given. */
function feed(items: InboxItem[]) {
  const answers: [string, string, string | undefined][] = [];
  let replacement: string | undefined;
  const fake = {
    error: undefined,
    loaded: true,
    items: () => [...items],
    takeReplacement: () => {
      const id = replacement;
      replacement = undefined;
      return id;
    },
    answer: (answered: InboxItem, choice: string, note?: string) => {
      answers.push([answered.id, choice, note]);
      items.splice(items.indexOf(answered), 1);
      return Promise.resolve({ ...answered, status: 'closed' as const });
    },
  };
  return {
    feed: fake as unknown as InboxFeed,
    answers,
    items,
    replaceWith(next: InboxItem) {
      items.push(next);
      replacement = next.id;
    },
  };
}

describe('the popups over the screen', () => {
  it("draws the inbox at once, takes the key typed with the i that opened it, and its closing q is not the screen's", async () => {
    const t = terminal();
    const inbox = feed([item('i1'), item('i2')]);
    let detached = 0;
    t.on(['i'], () => t.popups.inbox({ feed: inbox.feed, runId: 'r1', note: () => undefined }));
    t.on(['q'], () => detached++);

    t.popups.inbox({ feed: inbox.feed, runId: 'r1', note: () => undefined });
    // Drawn before any frame of the screen's: its content, not an empty box.
    expect(t.text()).toContain('i1: approve the plan?');
    await t.type('q');
    expect(t.popups.idle).toBe(true);
    expect(detached).toBe(0);

    // i and a read in one chunk: the a answers the item the panel selected.
    await t.type('ia');
    expect(inbox.answers).toEqual([['i1', 'approve', undefined]]);
    await t.type('q');
    expect(detached).toBe(0);
    await t.type('q');
    expect(detached).toBe(1);
  });

  it('keeps a note typed in the same chunk as the e that asked for it, and selects the plan that comes back', async () => {
    const t = terminal();
    const inbox = feed([item('i1'), item('i2', { runId: 'r2' })]);
    t.popups.inbox({ feed: inbox.feed, runId: 'r1', note: () => undefined });
    await t.type('eshorter please\r');
    expect(inbox.answers).toEqual([['i1', 'edit', 'shorter please']]);
    // The manager's new plan for r1 comes as a new item, after r2's: it is the one selected.
    inbox.replaceWith(item('i3'));
    t.popups.update(Date.now());
    t.screen.render();
    expect(t.text()).toMatch(/i3 plan_approval · run r1/);
  });

  it('asks s and X first: y typed with the key confirms; n, Enter or Esc keeps', async () => {
    const t = terminal();
    const answers: boolean[] = [];
    t.on(['s'], () => void t.popups.confirm(' Skip task ', 'Skip task t1?').then((yes) => answers.push(yes)));
    await t.type('sy');
    await t.type('s\r');
    await t.type('sn');
    await t.type('s');
    expect(t.text()).toContain('Skip task t1?');
    await t.type('\x1b');
    expect(answers).toEqual([true, false, false, false]);
    expect(t.popups.idle).toBe(true);
  });

  it('keeps a search typed in the same chunk as the / that opened its line', async () => {
    const t = terminal();
    const typed: (string | undefined)[] = [];
    t.on(['/'], () => void t.popups.line(' Search ', '').then((text) => typed.push(text)));
    await t.type('/intro\r');
    expect(typed).toEqual(['intro']);
  });

  it('says what it fetches, and gives the keys typed meanwhile to the lists that follow, not the screen', async () => {
    const t = terminal();
    let release: (items: string[]) => void = () => undefined;
    const picked: (number | undefined)[][] = [];
    let behind = 0;
    t.on(['enter', 'down'], () => behind++);
    t.on(['b'], () => {
      const listing = new Promise<string[]>((resolve) => (release = resolve));
      void t.popups.flow(async () => {
        const items = await t.popups.loading(' Roll back ', 'listing the checkpoints…', listing);
        if (items === undefined) return picked.push([]);
        const first = await t.popups.pick(' Which? ', items);
        const second = await t.popups.pick(' How? ', ['full', 'partial']);
        return picked.push([first, second]);
      });
    });

    await t.type('b');
    expect(t.text()).toContain('listing the checkpoints…');
    // Enter (the newest checkpoint), then ↓ and Enter (partial), typed before the list came.
    await t.type('\r\x1b[B\r');
    release(['cp2', 'cp1']);
    await t.type('');
    expect(picked).toEqual([[0, 1]]);
    expect(behind).toBe(0);

    // Esc while it fetches gives up; a key typed after it is the screen's again.
    await t.type('b');
    await t.type('\x1b');
    await t.type('\r');
    expect(picked).toEqual([[0, 1], []]);
    expect(behind).toBe(1);
  });
});
