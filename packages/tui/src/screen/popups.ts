import blessed from 'blessed';
import { askLine, askYesNo, openOverlay, pickFrom, type Key } from './dialogs.js';
import { InboxPanel, type InboxPanelOptions } from './inbox-panel.js';
import { cellWidth } from './text-cells.js';

type Modal =
  | { kind: 'overlay'; box: blessed.Widgets.BoxElement }
  | { kind: 'picker' }
  | { kind: 'prompt' }
  | { kind: 'confirm' }
  | { kind: 'loading' }
  | { kind: 'inbox'; panel: InboxPanel };

type KeyPress = [string | undefined, Key];

/**
 * The popups over the run (help, a task's detail, a list to choose from, a question, the search line, the
 * inbox), one at a time. Each is drawn with its content the moment its key is pressed, from what the
 * screen holds (or a "loading…" line while the daemon is asked), and holds the keys from then on: keys
 * read in the same chunk as the one that opened it, or typed while a step of it is on its way, are its own
 * (they were lost, or reached the table behind it). The screen's own keys are quiet meanwhile
 * (`holds`), and the key that closed a popup is not the screen's too.
 */
export class Popups {
  private modal: Modal | undefined;
  /** The key that closed the last popup, told to the screen's keys after the popup's. */
  private closedBy: Key | undefined;
  /** Steps of several popups under way (rollback: a checkpoint, then how). */
  private flows = 0;
  /** Keys pressed while a flow has no popup up yet: given to the next one, or the screen once it ends. */
  private early: KeyPress[] = [];

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    /** Asks the screen for a frame. */
    private readonly redraw: () => void,
  ) {
    screen.on('keypress', (ch: string | undefined, key: Key) => {
      if (
        this.flows > 0 &&
        (this.modal === undefined || this.modal.kind === 'loading') &&
        key !== this.closedBy
      )
        this.early.push([ch, key]);
    });
  }

  /** The screen's own keys leave `key` alone: a popup (or a flow of them) holds the keys, or it closed one. */
  holds(key: Key | undefined): boolean {
    return this.modal !== undefined || this.flows > 0 || (key !== undefined && key === this.closedBy);
  }

  /** No popup is open (the run may close the screen). */
  get idle(): boolean {
    return this.modal === undefined && this.flows === 0;
  }

  /** Called on every frame: the inbox redraws from its feed. */
  update(now: number): void {
    if (this.modal?.kind === 'inbox') this.modal.panel.update(now);
  }

  /** A text to read; the returned function replaces it while it is still open (a fuller record came). */
  overlay(label: string, content: string): (content: string) => void {
    const box = openOverlay(this.screen, label, content, () => this.closed());
    const modal: Modal = { kind: 'overlay', box };
    this.opened(modal);
    return (text) => {
      if (this.modal !== modal) return;
      box.setContent(text);
      this.redraw();
    };
  }

  /** A list to choose from; resolves with the index chosen, or undefined on Esc. */
  pick(label: string, items: string[], keys: string[] = []): Promise<number | undefined> {
    return new Promise((resolve) => {
      pickFrom(this.screen, label, items, keys, (index) => {
        this.closed();
        resolve(index);
      });
      this.opened({ kind: 'picker' });
    });
  }

  /** A line to type; resolves with it on Enter, undefined on Esc. */
  line(label: string, initial: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      askLine(this.screen, label, initial, (text) => {
        this.closed();
        resolve(text);
      });
      this.opened({ kind: 'prompt' });
    });
  }

  /** A yes/no question (`question` is markup); resolves true on y; n, Esc, q or Enter keep. */
  confirm(label: string, question: string): Promise<boolean> {
    return new Promise((resolve) => {
      askYesNo(this.screen, label, question, (yes, key) => {
        this.closed(key);
        resolve(yes);
      });
      this.opened({ kind: 'confirm' });
    });
  }

  /**
   * `text` (what is being fetched) until `fetching` settles: resolves with what it brought, undefined
   * when Esc was pressed meanwhile; other keys wait for the popup that follows (in a `flow`).
   */
  loading<T>(label: string, text: string, fetching: Promise<T>): Promise<T | undefined> {
    const width = Math.min(
      Math.max(cellWidth(label), cellWidth(text)) + 4,
      (this.screen.width as number) - 2,
    );
    const box = blessed.box({
      parent: this.screen,
      top: 'center',
      left: 'center',
      width,
      height: 3,
      border: { type: 'line' },
      style: { border: { fg: 'cyan' } },
      label,
      content: text,
    });
    this.opened({ kind: 'loading' }, true);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (then: () => void, key?: Key) => {
        if (settled) return;
        settled = true;
        this.screen.removeListener('keypress', escape);
        box.destroy();
        // The Esc that gave it up was held for the next popup too: it is this one's.
        if (key !== undefined) this.early = this.early.filter(([, k]) => k !== key);
        this.closed(key);
        then();
      };
      const escape = (_ch: unknown, key: Key) => {
        if (key.full === 'escape') finish(() => resolve(undefined), key);
      };
      this.screen.on('keypress', escape);
      fetching.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
      );
    });
  }

  /**
   * Popups one after another (`run` opens them): the keys stay theirs from the first to the last, so a key
   * typed between two goes to the next, not to the table. Keys left once it ends are the screen's.
   */
  async flow<T>(run: () => Promise<T>): Promise<T> {
    this.flows++;
    try {
      return await run();
    } finally {
      this.flows--;
      if (this.flows === 0) {
        this.redraw();
        this.replay();
      }
    }
  }

  inbox(options: Omit<InboxPanelOptions, 'screen' | 'redraw' | 'onClose'>): void {
    const panel = new InboxPanel({
      ...options,
      screen: this.screen,
      redraw: this.redraw,
      onClose: (key) => this.closed(key),
    });
    this.opened({ kind: 'inbox', panel }, true);
  }

  /**
   * A popup is up (`draw`: drawn now, not at the next frame; the dialogs draw themselves) and is given the
   * keys typed while it came.
   */
  private opened(modal: Modal, draw = false): void {
    this.modal = modal;
    if (draw) this.screen.render();
    if (modal.kind !== 'loading') this.replay();
  }

  private closed(key?: Key): void {
    this.modal = undefined;
    this.closedBy = key;
    this.redraw();
  }

  /** The keys held while no popup was up, told again to whatever holds the keys now. */
  private replay(): void {
    const keys = this.early.splice(0);
    for (const [ch, key] of keys) this.screen.program.emit('keypress', ch, key);
  }
}
