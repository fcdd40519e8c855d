import type { InboxEvent, InboxItem } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import type { InboxClient } from './inbox-client.js';
import { InboxFeed } from './inbox-feed.js';

const item = (id: string, runId: string, openedAt: string): InboxItem => ({
  id,
  type: 'plan_approval',
  runId,
  question: `run ${runId}: approve the plan?`,
  choices: [{ id: 'approve', key: 'a', label: 'approve' }],
  openedAt,
  status: 'open',
});

/**
 * A daemon's inbox procedures in memory, as the typed client shapes them: `list` answers with what is
 * open, `events` replays nothing and hands out what `emit` sends, `answer` does what `answers` says.
 */
class FakeInboxClient implements InboxClient {
  items: InboxItem[] = [];
  lastEventId = 0;
  subscribedFrom: (string | number | null | undefined)[] = [];
  answers: (itemId: string, choice: string) => InboxItem = () => {
    throw new Error('no answer expected');
  };
  private observer: {
    onData?: (value: { id: string; data: InboxEvent }) => void;
    onError?: (e: never) => void;
  } = {};

  list: InboxClient['list'] = {
    query: () => Promise.resolve({ items: this.items, lastEventId: this.lastEventId }),
  } as InboxClient['list'];

  answer: InboxClient['answer'] = {
    mutate: (input: { itemId: string; choice: string }) =>
      new Promise((resolve) => resolve(this.answers(input.itemId, input.choice))),
  } as InboxClient['answer'];

  events: InboxClient['events'] = {
    subscribe: (input: { lastEventId?: string | number | null }, observer: typeof this.observer) => {
      this.subscribedFrom.push(input.lastEventId);
      this.observer = observer;
      return { unsubscribe: () => (this.observer = {}) };
    },
  } as unknown as InboxClient['events'];

  emit(event: InboxEvent): void {
    this.observer.onData?.({ id: String(event.id), data: event });
  }

  fail(error: Error): void {
    this.observer.onError?.(error as never);
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('InboxFeed', () => {
  it('lists the open items, follows from the list, counts per run and hears of pushes', async () => {
    const client = new FakeInboxClient();
    client.items = [item('i1', 'r1', '2026-01-01T00:00:02Z'), item('i2', 'r2', '2026-01-01T00:00:01Z')];
    client.lastEventId = 7;
    const notified: string[] = [];
    let changes = 0;
    const feed = new InboxFeed(client, { onChange: () => changes++, onNotified: (i) => notified.push(i.id) });
    feed.start();
    await settle();
    expect(client.subscribedFrom).toEqual(['7']);
    expect(feed.count('r1')).toEqual({ run: 1, all: 2 });
    // This run's first, then the longest waiting.
    expect(feed.items('r1').map((i) => i.id)).toEqual(['i1', 'i2']);
    expect(feed.items().map((i) => i.id)).toEqual(['i2', 'i1']);

    const i3 = item('i3', 'r1', '2026-01-01T00:00:03Z');
    client.emit({ id: 8, at: i3.openedAt, type: 'inbox.opened', item: i3 });
    client.emit({ id: 9, at: i3.openedAt, type: 'inbox.notified', item: { ...i3, notifiedAt: i3.openedAt } });
    client.emit({
      id: 10,
      at: i3.openedAt,
      type: 'inbox.closed',
      item: { ...item('i2', 'r2', ''), status: 'closed' },
    });
    expect(notified).toEqual(['i3']);
    expect(feed.count('r1')).toEqual({ run: 2, all: 2 });
    expect(changes).toBeGreaterThanOrEqual(4);
    feed.stop();
  });

  it('passes a refused answer on and keeps the item; an answered one stays gone despite a late event', async () => {
    const client = new FakeInboxClient();
    const i1 = item('i1', 'r1', '2026-01-01T00:00:01Z');
    client.items = [i1];
    const feed = new InboxFeed(client, { onChange: () => undefined, onNotified: () => undefined });
    feed.start();
    await settle();
    client.answers = () => {
      throw new Error('item i1 is closed');
    };
    await expect(feed.answer(i1, 'approve')).rejects.toThrow('item i1 is closed');
    expect(feed.count('r1').all).toBe(1);

    client.answers = () => ({ ...i1, status: 'closed' });
    await feed.answer(i1, 'approve');
    expect(feed.count('r1').all).toBe(0);
    client.emit({ id: 2, at: i1.openedAt, type: 'inbox.notified', item: i1 });
    expect(feed.count('r1').all).toBe(0);
    feed.stop();
  });

  it('follows a plan sent back with a note: the item that comes in its place is the one to select', async () => {
    const client = new FakeInboxClient();
    const edit = { id: 'edit', key: 'e', label: 'change it', needsNote: true };
    const i1 = { ...item('i1', 'r1', '2026-01-01T00:00:01Z'), choices: [edit] };
    client.items = [i1, item('i2', 'r2', '2026-01-01T00:00:02Z')];
    const feed = new InboxFeed(client, { onChange: () => undefined, onNotified: () => undefined });
    expect(feed.loaded).toBe(false);
    feed.start();
    await settle();
    expect(feed.loaded).toBe(true);
    client.answers = () => ({ ...i1, status: 'closed' });
    await feed.answer(i1, 'edit', 'shorter');
    expect(feed.takeReplacement()).toBeUndefined();
    // Another run's plan is not it; the next plan of r1 is, once.
    const other = item('i3', 'r2', '2026-01-01T00:00:03Z');
    client.emit({ id: 2, at: other.openedAt, type: 'inbox.opened', item: other });
    expect(feed.takeReplacement()).toBeUndefined();
    const again = item('i4', 'r1', '2026-01-01T00:00:04Z');
    client.emit({ id: 3, at: again.openedAt, type: 'inbox.opened', item: again });
    expect(feed.takeReplacement()).toBe('i4');
    expect(feed.takeReplacement()).toBeUndefined();
    feed.stop();
  });

  it('lists and follows anew after the stream breaks, and says why meanwhile', async () => {
    const client = new FakeInboxClient();
    client.lastEventId = 3;
    const feed = new InboxFeed(client, { onChange: () => undefined, onNotified: () => undefined });
    feed.start();
    await settle();
    client.items = [item('i4', 'r1', '2026-01-01T00:00:01Z')];
    client.lastEventId = 5;
    client.fail(new Error('connection closed'));
    expect(feed.error).toBe('connection closed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.subscribedFrom).toEqual(['3', '5']);
    expect(feed.error).toBeUndefined();
    expect(feed.count('r1').all).toBe(1);
    feed.stop();
  });
});
