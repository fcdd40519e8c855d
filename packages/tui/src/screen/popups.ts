import type blessed from 'blessed';
import { askLine, askYesNo, openOverlay, pickFrom } from './dialogs.js';
import { InboxPanel, type InboxPanelOptions } from './inbox-panel.js';

type Modal =
  | { kind: 'overlay'; box: blessed.Widgets.BoxElement }
  | { kind: 'picker' }
  | { kind: 'prompt' }
  | { kind: 'confirm' }
  | { kind: 'inbox'; panel: InboxPanel };

/**
 * The popups over the run (help, a task's detail, a list to choose from, a question, the search line, the
 * inbox), one at a time: while one is open it holds the keys and the screen's own keys are quiet.
 */
export class Popups {
  private modal: Modal | undefined;

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    /** Asks the screen for a frame. */
    private readonly redraw: () => void,
  ) {}

  /** A popup holds the keys. */
  get open(): boolean {
    return this.modal !== undefined;
  }

  /** Called on every frame: the inbox redraws from its feed. */
  update(now: number): void {
    if (this.modal?.kind === 'inbox') this.modal.panel.update(now);
  }

  /** A text to read; the returned function replaces it while it is still open (a fuller record came). */
  overlay(label: string, content: string): (content: string) => void {
    const box = openOverlay(this.screen, label, content, () => {
      this.modal = undefined;
      this.redraw();
    });
    const modal: Modal = { kind: 'overlay', box };
    this.modal = modal;
    return (text) => {
      if (this.modal !== modal) return;
      box.setContent(text);
      this.redraw();
    };
  }

  /** A list to choose from; resolves with the index chosen, or undefined on Esc. */
  async pick(label: string, items: string[], keys?: string[]): Promise<number | undefined> {
    this.modal = { kind: 'picker' };
    const index = await pickFrom(this.screen, label, items, keys);
    this.modal = undefined;
    this.redraw();
    return index;
  }

  /** A line to type; resolves with it on Enter, undefined on Esc, once the key that closed it went through. */
  async line(label: string, initial: string): Promise<string | undefined> {
    this.modal = { kind: 'prompt' };
    const text = await askLine(this.screen, label, initial);
    // Once the key that closed it has gone through: its Esc must not clear the status filter too.
    return new Promise((resolve) =>
      setImmediate(() => {
        this.modal = undefined;
        resolve(text);
      }),
    );
  }

  /** A yes/no question (`question` is markup); resolves true on y. */
  async confirm(label: string, question: string): Promise<boolean> {
    this.modal = { kind: 'confirm' };
    this.redraw();
    const yes = await askYesNo(this.screen, label, question);
    this.modal = undefined;
    this.redraw();
    return yes;
  }

  inbox(options: Omit<InboxPanelOptions, 'screen' | 'redraw' | 'onClose'>): void {
    const panel = new InboxPanel({
      ...options,
      screen: this.screen,
      redraw: this.redraw,
      // Once the key that closed it has gone through: its q or i must not detach or reopen.
      onClose: () =>
        setImmediate(() => {
          this.modal = undefined;
          this.redraw();
        }),
    });
    this.modal = { kind: 'inbox', panel };
    this.redraw();
  }
}
