import {
  OrcError,
  RUN_ITEM_TYPES,
  type InboxChoice,
  type InboxClosing,
  type InboxEvent,
  type InboxItem,
  type InboxItemType,
  type InboxList,
  type RunWaits,
} from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import type { InboxDocument, InboxFile, StoredItem } from './inbox-file.js';

/** What opens an item: everything a person needs to answer it, and its identity. */
export interface ItemSpec {
  type: InboxItemType;
  runId: string;
  taskId?: string;
  attempt?: number;
  /** One open item per key (`budget/r1`, `task_failed/r1/t3`, `permission/r1/toolu_…`). */
  key: string;
  question: string;
  detail?: string;
  choices: InboxChoice[];
  /** Epoch ms after which nobody answered it (a permission). */
  expiresAt?: number;
}

export interface Answer {
  choice: string;
  note?: string;
  budgetUsd?: number;
}

/**
 * Does what an answer asks of a run (resume it, retry a task…); throws when the run cannot. `tell` says,
 * before it acts, what it does beyond the choice when there is more to tell (the cap a raise sets): the
 * answer's line, kept with the item however it closes.
 */
export type AnswerAction = (
  item: InboxItem,
  answer: Answer,
  tell: (outcome: string) => void,
) => Promise<void>;

export interface InboxOptions {
  file: InboxFile;
  clock: Clock;
  logger: Logger;
  /** The kinds that are pushed (`notifications.on`), and how long a permission waits before it is. */
  notify: { types: ReadonlySet<InboxItemType>; permissionGraceMs: number };
  /** Closed items kept for `orc inbox --all` and for replaying events; the oldest go first. */
  keepClosed?: number;
}

const NO_WAITS: RunWaits = { agentMs: 0, permissions: 0, runMs: 0 };

/**
 * The daemon's inbox: every situation that waits for a person, as an item with its choices, one stream of
 * events (`inbox.opened`, `inbox.notified`, `inbox.closed`, ids monotonic across restarts) and one file.
 * Items are opened and closed by what the runs do (see run-inbox-feed.ts) and by agents asking for a
 * permission (permission-desk.ts); a person's answer closes an item and is carried out by `act`.
 *
 * Events are published at once, not after the file is written: the inbox must tell a person that the
 * state directory cannot be written, so it never waits for that directory (inbox-file.ts retries).
 */
export class Inbox {
  private readonly items = new Map<string, StoredItem>();
  /** The open item of each key. */
  private readonly openByKey = new Map<string, string>();
  private readonly standing = new Set<string>();
  private readonly waits = new Map<string, RunWaits>();
  private readonly listeners = new Set<(event: InboxEvent) => void>();
  /** Ends an item's timers (its push after the grace, its expiry) when it closes. */
  private readonly timers = new Map<string, AbortController>();
  /** Called when the item closes: an agent waiting for a permission. */
  private readonly onClose = new Map<string, (item: InboxItem) => void>();
  /** Items whose answer is being carried out: closed by what it does, they count as answered. */
  private readonly answering = new Map<string, Answer & { outcome?: string }>();
  private nextItem = 1;
  private lastEventId = 0;
  private act: AnswerAction = () => Promise.reject(new Error('the inbox cannot act on answers yet'));

  private constructor(private readonly options: InboxOptions) {}

  /** The inbox of a state directory, from its file. Permissions left open by a stopped daemon close. */
  static async open(options: InboxOptions): Promise<Inbox> {
    const inbox = new Inbox(options);
    const doc = await options.file.read();
    if (doc) inbox.load(doc);
    for (const item of [...inbox.items.values()]) {
      // The agent that asked is gone with the daemon that ran it; its attempt runs again and asks anew.
      if (item.status === 'open' && item.type === 'permission')
        inbox.close(item.id, { reason: 'obsolete', why: 'the daemon stopped; the attempt runs again' });
    }
    return inbox;
  }

  /** What carries out a person's answer on a run (set once the runs are there). */
  actOnAnswers(act: AnswerAction): void {
    this.act = act;
  }

  get lastId(): number {
    return this.lastEventId;
  }

  list(filter: { runId?: string; all?: boolean } = {}): InboxList {
    const items = [...this.items.values()]
      .filter(
        (item) =>
          (filter.all === true || item.status === 'open') && (filter.runId ?? item.runId) === item.runId,
      )
      .map(publicItem);
    return {
      items,
      lastEventId: this.lastEventId,
      ...(filter.runId !== undefined && { waits: this.waitsOf(filter.runId) }),
    };
  }

  /** The open items (not copies: read, do not change). */
  openItems(): StoredItem[] {
    return [...this.openByKey.values()].map((id) => this.items.get(id)!);
  }

  /** How long a run waited for a person so far, open items counted up to now. */
  waitsOf(runId: string): RunWaits {
    const waits = { ...(this.waits.get(runId) ?? NO_WAITS) };
    const now = this.options.clock.now();
    for (const item of this.openItems()) if (item.runId === runId) addWait(waits, item, now);
    return waits;
  }

  /**
   * Opens an item for `spec` unless its key has one open (returned revised to `spec`: its question,
   * detail and choices follow its run) or was answered while the situation lasts (undefined). `onClose`
   * is told when it closes, however it does.
   */
  open(spec: ItemSpec, onClose?: (item: InboxItem) => void): InboxItem | undefined {
    const existing = this.openByKey.get(spec.key);
    if (existing !== undefined) return publicItem(this.revise(this.items.get(existing)!, spec));
    if (this.standing.has(spec.key)) return undefined;
    const { clock } = this.options;
    const id = `i${this.nextItem++}`;
    const item: StoredItem = {
      id,
      type: spec.type,
      runId: spec.runId,
      ...(spec.taskId !== undefined && { taskId: spec.taskId }),
      ...(spec.attempt !== undefined && { attempt: spec.attempt }),
      question: spec.question,
      ...(spec.detail !== undefined && { detail: spec.detail }),
      choices: spec.choices,
      openedAt: isoAt(clock),
      ...(spec.expiresAt !== undefined && { expiresAt: new Date(spec.expiresAt).toISOString() }),
      status: 'open',
      key: spec.key,
      events: { opened: ++this.lastEventId },
    };
    this.items.set(id, item);
    this.openByKey.set(spec.key, id);
    if (onClose) this.onClose.set(id, onClose);
    this.publish({ id: item.events.opened, at: item.openedAt, type: 'inbox.opened', item: publicItem(item) });
    this.schedule(item);
    this.save();
    return publicItem(item);
  }

  /** An open item made to say what `spec` says now, with an `inbox.revised` when that changed anything. */
  private revise(item: StoredItem, spec: ItemSpec): StoredItem {
    const same =
      item.question === spec.question &&
      item.detail === spec.detail &&
      JSON.stringify(item.choices) === JSON.stringify(spec.choices);
    if (same) return item;
    item.question = spec.question;
    if (spec.detail === undefined) delete item.detail;
    else item.detail = spec.detail;
    item.choices = spec.choices;
    item.events.revised = ++this.lastEventId;
    item.revisedAt = isoAt(this.options.clock);
    this.publish({
      id: item.events.revised,
      at: item.revisedAt,
      type: 'inbox.revised',
      item: publicItem(item),
    });
    this.save();
    return item;
  }

  /** Closes an open item; a closed or unknown one is left as it is. */
  close(id: string, closing: InboxClosing): InboxItem | undefined {
    const item = this.items.get(id);
    if (item?.status !== 'open') return undefined;
    const answer = this.answering.get(id);
    // Carrying out an answer changed what the run waits for: that is the answer, not an obsolete item.
    const how: InboxClosing =
      answer && closing.reason === 'obsolete'
        ? {
            reason: 'answered',
            choice: answer.choice,
            ...(answer.note !== undefined && { note: answer.note }),
            ...(answer.outcome !== undefined && { outcome: answer.outcome }),
          }
        : closing;
    item.status = 'closed';
    item.closedAt = isoAt(this.options.clock);
    item.closed = how;
    item.events.closed = ++this.lastEventId;
    this.openByKey.delete(item.key);
    if (how.reason === 'answered' && item.type !== 'permission') this.standing.add(item.key);
    this.timers.get(id)?.abort();
    this.timers.delete(id);
    const waits = { ...(this.waits.get(item.runId) ?? NO_WAITS) };
    addWait(waits, item, Date.parse(item.closedAt));
    this.waits.set(item.runId, waits);
    this.prune();
    const shown = publicItem(item);
    this.publish({ id: item.events.closed, at: item.closedAt, type: 'inbox.closed', item: shown });
    const told = this.onClose.get(id);
    this.onClose.delete(id);
    told?.(shown);
    this.save();
    return shown;
  }

  /**
   * What a run waits for now, within `scope`: items whose key is not among `specs` close (they no longer
   * apply), the others open. Keys answered earlier stay answered until their situation ends.
   */
  settle(
    scope: (item: { runId: string; type: InboxItemType; taskId?: string }) => boolean,
    specs: ItemSpec[],
    why: string,
  ): void {
    const wanted = new Set(specs.map((spec) => spec.key));
    for (const item of this.openItems()) {
      if (scope(item) && !wanted.has(item.key)) this.close(item.id, { reason: 'obsolete', why });
    }
    let forgot = false;
    for (const key of [...this.standing]) {
      if (!wanted.has(key) && scope(scopeOfKey(key))) forgot = this.standing.delete(key) || forgot;
    }
    for (const spec of specs) this.open(spec);
    if (forgot) this.save();
  }

  /** A run that is over for good (cancelled, removed): its open items close, what it waited is kept. */
  dropRun(runId: string, why: string, forget = false): void {
    for (const item of this.openItems())
      if (item.runId === runId) this.close(item.id, { reason: 'obsolete', why });
    let changed = false;
    for (const key of [...this.standing])
      if (scopeOfKey(key).runId === runId) changed = this.standing.delete(key) || changed;
    if (forget) {
      changed = this.waits.delete(runId) || changed;
      for (const [id, item] of this.items)
        if (item.runId === runId) changed = this.items.delete(id) || changed;
    }
    if (changed) this.save();
  }

  /**
   * A person's answer: checked (an unknown or closed item is ITEM_NOT_FOUND, a choice it does not offer
   * INVALID_CHOICE, listing those it does), carried out, and the item closed as answered.
   */
  async answer(itemId: string, answer: Answer): Promise<InboxItem> {
    const item = this.items.get(itemId);
    if (!item)
      throw new OrcError(
        'ITEM_NOT_FOUND',
        `there is no inbox item "${itemId}"; orc inbox lists the open ones`,
      );
    if (item.status !== 'open')
      throw new OrcError('ITEM_NOT_FOUND', `inbox item ${itemId} is closed: ${closedText(item)}`);
    const choice = item.choices.find((c) => c.id === answer.choice);
    if (!choice) {
      throw new OrcError(
        'INVALID_CHOICE',
        `inbox item ${itemId} (${item.type}) takes ${item.choices.map((c) => c.id).join(', ')}; got "${answer.choice}"`,
      );
    }
    if (choice.needsNote && !answer.note?.trim())
      throw new OrcError(
        'INVALID_CHOICE',
        `${choice.id} needs a note saying what to change: orc answer ${itemId} ${choice.id} --note "…"`,
      );
    if (
      answer.budgetUsd !== undefined &&
      item.type !== 'budget' &&
      choice.id !== 'raise' &&
      choice.id !== 'retry_all'
    )
      throw new OrcError(
        'INVALID_CHOICE',
        `a budget goes with a budget item or a raise of a task's cap; ${itemId} is ${item.type} and ${choice.id} takes none`,
      );
    const answering: Answer & { outcome?: string } = { ...answer };
    if (!this.onClose.has(itemId)) {
      this.answering.set(itemId, answering);
      try {
        await this.act(publicItem(item), answer, (outcome) => (answering.outcome = outcome));
      } finally {
        this.answering.delete(itemId);
      }
    }
    const closed = this.close(itemId, {
      reason: 'answered',
      choice: answer.choice,
      ...(answer.note !== undefined && answer.note !== '' && { note: answer.note }),
      ...(answering.outcome !== undefined && { outcome: answering.outcome }),
    });
    return closed ?? publicItem(item);
  }

  /** Calls `listener` with every event from now on. */
  subscribe(listener: (event: InboxEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Every event with an id greater than `afterId` that the kept items can tell (all of them but those of
   * items pruned long ago), then live ones, without gap or duplicate, until the signal aborts.
   */
  async *events(afterId: number, signal: AbortSignal): AsyncGenerator<InboxEvent> {
    let live: InboxEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe((event) => {
      live.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      let last = afterId;
      for (const event of this.replay(afterId)) {
        if (signal.aborted) return;
        last = event.id;
        yield event;
      }
      while (!signal.aborted) {
        const batch = live;
        live = [];
        for (const event of batch) {
          if (event.id <= last) continue;
          last = event.id;
          yield event;
          if (signal.aborted) return;
        }
        if (live.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      unsubscribe();
    }
  }

  /** Stops every timer and writes the file one last time. */
  async stop(): Promise<void> {
    for (const timer of this.timers.values()) timer.abort();
    this.timers.clear();
    await this.options.file.close();
  }

  /**
   * The events of the kept items after `afterId`, as they were when they happened, but for what a revision
   * changed: an item keeps only what it says now, so each of its events shows that.
   */
  private replay(afterId: number): InboxEvent[] {
    const events: InboxEvent[] = [];
    for (const item of this.items.values()) {
      const { opened, notified, revised, closed } = item.events;
      const shown = publicItem(item);
      const asOpened: InboxItem = { ...shown, status: 'open' };
      delete asOpened.closedAt;
      delete asOpened.closed;
      delete asOpened.notifiedAt;
      if (opened > afterId)
        events.push({ id: opened, at: item.openedAt, type: 'inbox.opened', item: asOpened });
      if (notified !== undefined && notified > afterId && item.notifiedAt !== undefined)
        events.push({
          id: notified,
          at: item.notifiedAt,
          type: 'inbox.notified',
          item: { ...asOpened, notifiedAt: item.notifiedAt },
        });
      if (revised !== undefined && revised > afterId && item.revisedAt !== undefined)
        events.push({ id: revised, at: item.revisedAt, type: 'inbox.revised', item: asOpened });
      if (closed !== undefined && closed > afterId && item.closedAt !== undefined)
        events.push({ id: closed, at: item.closedAt, type: 'inbox.closed', item: shown });
    }
    return events.sort((a, b) => a.id - b.id);
  }

  /** Its push (a permission's after the grace) and its expiry. */
  private schedule(item: StoredItem): void {
    const { clock, notify } = this.options;
    const timers = new AbortController();
    this.timers.set(item.id, timers);
    // An item pushed before a restart is not pushed again.
    if (notify.types.has(item.type) && item.notifiedAt === undefined) {
      const grace = item.type === 'permission' ? notify.permissionGraceMs : 0;
      if (grace === 0) this.notified(item);
      else
        clock.sleep(grace, timers.signal).then(
          () => this.notified(item),
          () => undefined,
        );
    }
    if (item.expiresAt !== undefined) {
      const after = Math.max(0, Date.parse(item.expiresAt) - clock.now());
      clock.sleep(after, timers.signal).then(
        () => this.close(item.id, { reason: 'expired', why: 'nobody answered in time' }),
        () => undefined,
      );
    }
  }

  private notified(item: StoredItem): void {
    if (item.status !== 'open') return;
    item.notifiedAt = isoAt(this.options.clock);
    item.events.notified = ++this.lastEventId;
    this.publish({
      id: item.events.notified,
      at: item.notifiedAt,
      type: 'inbox.notified',
      item: publicItem(item),
    });
    this.save();
  }

  private publish(event: InboxEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.error({ err: error }, 'an inbox listener failed');
      }
    }
  }

  /** The oldest closed items go past `keepClosed`; open ones always stay. */
  private prune(): void {
    const keep = this.options.keepClosed ?? 500;
    const closed = [...this.items.values()].filter((item) => item.status === 'closed');
    for (const item of closed.slice(0, Math.max(0, closed.length - keep))) this.items.delete(item.id);
  }

  private save(): void {
    this.options.file.save(() => this.toDocument());
  }

  private toDocument(): InboxDocument {
    return {
      version: 1,
      nextItem: this.nextItem,
      lastEventId: this.lastEventId,
      items: [...this.items.values()],
      standing: [...this.standing],
      waits: Object.fromEntries(this.waits),
    };
  }

  private load(doc: InboxDocument): void {
    this.nextItem = doc.nextItem;
    this.lastEventId = doc.lastEventId;
    for (const item of doc.items) {
      this.items.set(item.id, item);
      if (item.status === 'open') {
        this.openByKey.set(item.key, item.id);
        this.schedule(item);
      }
    }
    for (const key of doc.standing) this.standing.add(key);
    for (const [runId, waits] of Object.entries(doc.waits)) this.waits.set(runId, waits);
  }
}

/** The item as clients see it: without the inbox's own bookkeeping. */
function publicItem(item: StoredItem): InboxItem {
  const { key: _key, events: _events, revisedAt: _revisedAt, ...shown } = item;
  return { ...shown, choices: [...shown.choices] };
}

/** What an item's wait adds to its run's: agent-time for a permission, run-time for a whole-run pause. */
function addWait(waits: RunWaits, item: StoredItem, until: number): void {
  const ms = Math.max(0, until - Date.parse(item.openedAt));
  if (item.type === 'permission') {
    waits.agentMs += ms;
    waits.permissions += 1;
  } else if (item.type === 'backend') {
    // These pauses wait for a server, the account's limit or the disk, not for a person: each goes on
    // by itself, so `orc show` names what the run waited for apart from the person's waits.
    waits.backendMs = (waits.backendMs ?? 0) + ms;
  } else if (item.type === 'quota') {
    waits.quotaMs = (waits.quotaMs ?? 0) + ms;
  } else if (item.type === 'storage') {
    waits.storageMs = (waits.storageMs ?? 0) + ms;
  } else if (RUN_ITEM_TYPES.has(item.type)) {
    waits.runMs += ms;
  }
}

/** Keys are `<type>/<run>[/<task>]`. */
export function itemKey(type: InboxItemType, runId: string, taskId?: string): string {
  return taskId === undefined ? `${type}/${runId}` : `${type}/${runId}/${taskId}`;
}

function scopeOfKey(key: string): { runId: string; type: InboxItemType; taskId?: string } {
  const [type, runId = '', taskId] = key.split('/');
  return { type: type as InboxItemType, runId, ...(taskId !== undefined && { taskId }) };
}

function closedText(item: StoredItem): string {
  const closed = item.closed;
  if (closed?.reason === 'answered')
    return `answered ${closed.choice ?? ''} at ${item.closedAt ?? ''}`.trim();
  if (closed?.reason === 'expired') return `nobody answered it in time (${closed.why ?? 'expired'})`;
  return `it no longer applies (${closed?.why ?? 'obsolete'})`;
}
