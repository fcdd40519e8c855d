import type { InboxChoice, InboxItem } from '@orc/shared';
import blessed from 'blessed';
import { panelBox, readLine, type Key } from './dialogs.js';
import type { InboxFeed } from './inbox-feed.js';
import { renderInbox, type InboxViewInput } from './inbox-view.js';
import { oneLine } from './text-cells.js';

export interface InboxPanelOptions {
  screen: blessed.Widgets.Screen;
  feed: InboxFeed;
  /** The run on screen: its items are listed first. */
  runId: string;
  /** Tells the event pane what was answered, so it stays on record once the panel is gone. */
  note(level: 'info' | 'error', text: string): void;
  /** Asks the screen for a frame (the panel redraws in `update`). */
  redraw(): void;
  /** `key`: the key that closed it, which the screen's own keys must leave alone. */
  onClose(key?: Key): void;
}

/**
 * The inbox over the screen (`i`): every open item, this run's first; ↑↓ choose one, its choice's key
 * answers it through `inbox.answer` (a choice that needs a note asks for it first), Esc closes. A key that
 * answers nothing says which keys do; a refused answer shows the daemon's reason. Nothing here throws
 * into the screen: every failure becomes a line in the panel and in the event pane.
 */
export class InboxPanel {
  private readonly box: blessed.Widgets.BoxElement;
  private selectedId: string | undefined;
  private selectedAt = 0;
  private status: InboxViewInput['status'];
  private prompt: blessed.Widgets.TextboxElement | undefined;
  /** An answer on its way: keys wait for it, so one press never answers twice. */
  private busy = false;
  private closed = false;

  constructor(private readonly options: InboxPanelOptions) {
    const { screen } = options;
    this.box = panelBox(screen, 'magenta', {
      label: ' Inbox (↑↓ choose · a choice key answers · Esc closes) ',
      tags: true,
      wrap: false,
    });
    // Listening at once: the screen's keypress listeners were told the i that opened it before its
    // handler ran, and a key read in the same chunk right after it is the panel's.
    screen.on('keypress', this.onKey);
    this.update(Date.now());
  }

  /** Redraws from the feed's items: called on every frame of the screen. */
  update(now: number): void {
    if (this.closed) return;
    const { feed } = this.options;
    const items = feed.items(this.options.runId);
    // A plan sent back with a note comes again as a new item: it is the one to answer next.
    const replacement = feed.takeReplacement();
    if (replacement !== undefined) this.selectedId = replacement;
    let selected = items.findIndex((item) => item.id === this.selectedId);
    // The selected item closed (answered here or elsewhere): the one that took its place.
    if (selected < 0) selected = Math.max(0, Math.min(this.selectedAt, items.length - 1));
    this.selectedAt = selected;
    this.selectedId = items[selected]?.id;
    const width = Math.max(10, (this.box.width as number) - 2);
    const height = Math.max(5, (this.box.height as number) - 2 - (this.prompt ? 3 : 0));
    this.box.setContent(
      renderInbox({
        items,
        selected,
        runId: this.options.runId,
        now,
        width,
        height,
        status: this.status,
        error: feed.error,
        loading: !feed.loaded,
      }),
    );
  }

  close(key?: Key): void {
    if (this.closed) return;
    this.closed = true;
    this.options.screen.removeListener('keypress', this.onKey);
    this.prompt?.destroy();
    this.box.destroy();
    this.options.onClose(key);
  }

  private readonly onKey = (ch: string | undefined, key: Key): void => {
    if (this.closed || this.prompt !== undefined) return;
    const name = key.full ?? key.name ?? '';
    const item = this.selected();
    const choice = item?.choices.find((c) => c.key === ch);
    if (choice !== undefined && item !== undefined) return this.choose(item, choice);
    if (name === 'escape' || name === 'q' || name === 'i') return this.close(key);
    if (name === 'up' || name === 'k') return this.move(-1);
    if (name === 'down' || name === 'j') return this.move(1);
    if (item === undefined || ch === undefined || !/^[\x21-\x7e]$/.test(ch)) return;
    const keys = item.choices.map((c) => c.key).join(', ');
    this.show('warn', `${ch} answers nothing here: ${item.id} takes ${keys} (Esc closes)`);
  };

  private selected(): InboxItem | undefined {
    return this.options.feed.items(this.options.runId).find((item) => item.id === this.selectedId);
  }

  private move(delta: number): void {
    const items = this.options.feed.items(this.options.runId);
    if (items.length === 0) return;
    this.selectedAt = Math.max(0, Math.min(items.length - 1, this.selectedAt + delta));
    this.selectedId = items[this.selectedAt]!.id;
    this.status = undefined;
    this.options.redraw();
  }

  private choose(item: InboxItem, choice: InboxChoice): void {
    if (this.busy) return this.show('warn', `still answering; ${choice.key} waits for that answer`);
    if (choice.needsNote) return this.askNote(item, choice);
    this.send(item, choice);
  }

  /** A one-line note under the list; Enter sends the answer with it, Esc goes back to the list. */
  private askNote(item: InboxItem, choice: InboxChoice): void {
    const prompt = blessed.textbox({
      parent: this.box,
      bottom: 0,
      left: 0,
      width: '100%-2',
      height: 3,
      border: { type: 'line' },
      style: { border: { fg: 'yellow' } },
      label: ` ${choice.id} ${item.id}: your note (Enter sends, Esc goes back) `,
      inputOnFocus: false,
    });
    this.prompt = prompt;
    prompt.focus();
    // Drawn now: the note's first keys are typed into what the person sees.
    this.options.screen.render();
    readLine(prompt, (value) => {
      prompt.destroy();
      this.prompt = undefined;
      const note = value?.trim();
      if (this.closed) return;
      if (value === undefined) this.show('info', `${choice.id} not sent`);
      else if (!note) this.show('warn', `${choice.id} needs a note: press ${choice.key} again and say how`);
      else this.send(item, choice, note);
    });
  }

  private send(item: InboxItem, choice: InboxChoice, note?: string): void {
    this.busy = true;
    this.show('info', `answering ${item.id}: ${choice.id}…`);
    this.options.feed.answer(item, choice.id, note).then(
      (closed) => {
        this.busy = false;
        // What the answer did when it did more than its choice says (the cap a raise set), as orc answer says it.
        const text = `${item.id} answered ${choice.id}: ${oneLine(closed.closed?.outcome ?? item.question)}`;
        this.options.note('info', text);
        // Nothing left to answer: back to the run, where the answer shows as it takes effect.
        if (this.options.feed.items().length === 0) return this.close();
        this.show('info', text);
      },
      (error: unknown) => {
        this.busy = false;
        const text = `answering ${item.id} ${choice.id} failed: ${error instanceof Error ? error.message : String(error)}`;
        this.options.note('error', text);
        this.show('error', text);
      },
    );
  }

  private show(level: 'info' | 'warn' | 'error', text: string): void {
    this.status = { level, text };
    this.options.redraw();
  }
}
