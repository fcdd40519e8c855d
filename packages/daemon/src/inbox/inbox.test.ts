import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock, tempHome } from '@orc/test-support';
import { isOrcError, type InboxEvent, type InboxItemType } from '@orc/shared';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Inbox, itemKey, type Answer, type ItemSpec } from './inbox.js';
import { InboxFile } from './inbox-file.js';

let home: { home: string; remove: () => Promise<void> };
let clock: ManualClock;
const logger = pino({ level: 'silent' });

beforeEach(async () => {
  home = await tempHome('orc-inbox-');
  clock = new ManualClock();
});
const opened: Inbox[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((inbox) => inbox.stop()));
  await home.remove();
});

const ALL: ReadonlySet<InboxItemType> = new Set(['permission', 'budget', 'task_failed', 'quota']);

async function openInbox(path = join(home.home, 'inbox.json'), graceMs = 30_000) {
  const inbox = await Inbox.open({
    file: new InboxFile(path, clock, logger),
    clock,
    logger,
    notify: { types: ALL, permissionGraceMs: graceMs },
  });
  opened.push(inbox);
  const acted: { item: string; answer: Answer }[] = [];
  inbox.actOnAnswers((item, answer) => {
    acted.push({ item: item.id, answer });
    return Promise.resolve();
  });
  return { inbox, acted };
}

const budget = (runId = 'r1'): ItemSpec => ({
  type: 'budget',
  runId,
  key: itemKey('budget', runId),
  question: `run ${runId} is paused at its budget`,
  choices: [
    { id: 'resume', key: 'r', label: 'go on' },
    { id: 'cancel', key: 'c', label: 'cancel' },
  ],
});

const failed = (taskId: string): ItemSpec => ({
  type: 'task_failed',
  runId: 'r1',
  taskId,
  key: itemKey('task_failed', 'r1', taskId),
  question: `task ${taskId} failed`,
  choices: [
    { id: 'retry', key: 'r', label: 'retry' },
    { id: 'skip', key: 's', label: 'skip' },
  ],
});

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('the inbox', () => {
  it('opens one item per key, answers it with a choice it offers, and refuses anything else with the reason', async () => {
    const { inbox, acted } = await openInbox();
    const item = inbox.open(budget())!;
    expect(item).toMatchObject({ id: 'i1', type: 'budget', runId: 'r1', status: 'open' });
    expect(inbox.open(budget())!.id).toBe('i1');
    expect(inbox.list().items.map((i) => i.id)).toEqual(['i1']);

    const wrong = await failure(inbox.answer('i1', { choice: 'yes' }));
    expect(isOrcError(wrong) && wrong.code).toBe('INVALID_CHOICE');
    expect((wrong as Error).message).toBe('inbox item i1 (budget) takes resume, cancel; got "yes"');
    const unknown = await failure(inbox.answer('i9', { choice: 'resume' }));
    expect(isOrcError(unknown) && unknown.code).toBe('ITEM_NOT_FOUND');
    expect(acted).toEqual([]);

    const answered = await inbox.answer('i1', { choice: 'resume', budgetUsd: 10 });
    expect(answered).toMatchObject({ status: 'closed', closed: { reason: 'answered', choice: 'resume' } });
    expect(acted).toEqual([{ item: 'i1', answer: { choice: 'resume', budgetUsd: 10 } }]);
    const again = await failure(inbox.answer('i1', { choice: 'resume' }));
    expect(isOrcError(again) && again.code).toBe('ITEM_NOT_FOUND');
    expect((again as Error).message).toMatch(/^inbox item i1 is closed: answered resume at /);
    expect(inbox.list().items).toEqual([]);
    expect(inbox.list({ all: true }).items.map((i) => i.id)).toEqual(['i1']);
  });

  it('a choice that needs a note is refused without one', async () => {
    const { inbox } = await openInbox();
    inbox.open({
      ...budget(),
      type: 'plan_approval',
      key: itemKey('plan_approval', 'r1'),
      choices: [{ id: 'edit', key: 'e', label: 'edit', needsNote: true }],
    });
    const error = await failure(inbox.answer('i1', { choice: 'edit' }));
    expect((error as Error).message).toBe(
      'edit needs a note saying what to change: orc answer i1 edit --note "…"',
    );
  });

  it('an answer the run refuses leaves the item open', async () => {
    const { inbox } = await openInbox();
    inbox.open(budget());
    inbox.actOnAnswers(() => Promise.reject(new Error('run r1 is rolling back')));
    await expect(inbox.answer('i1', { choice: 'resume' })).rejects.toThrow('rolling back');
    expect(inbox.list().items.map((i) => [i.id, i.status])).toEqual([['i1', 'open']]);
  });

  it('settles what a run waits for: what no longer applies closes, what still does stays, what is new opens', async () => {
    const { inbox } = await openInbox();
    const scope = (item: { runId: string; type: InboxItemType }) =>
      item.runId === 'r1' && item.type === 'task_failed';
    inbox.settle(scope, [failed('a'), failed('b')], 'tasks changed');
    inbox.open(budget());
    inbox.settle(scope, [failed('b'), failed('c')], 'a was retried');
    const all = inbox.list({ all: true }).items;
    expect(all.map((i) => [i.taskId ?? i.type, i.status, i.closed?.reason])).toEqual([
      ['a', 'closed', 'obsolete'],
      ['b', 'open', undefined],
      ['budget', 'open', undefined],
      ['c', 'open', undefined],
    ]);
    expect(all[0]!.closed?.why).toBe('a was retried');
  });

  it('an answered item does not open again while its situation lasts, and does once it came back', async () => {
    const { inbox } = await openInbox();
    const scope = (item: { runId: string; type: InboxItemType }) => item.type === 'budget';
    inbox.settle(scope, [budget()], 'paused');
    await inbox.answer('i1', { choice: 'resume' });
    inbox.settle(scope, [budget()], 'still paused');
    expect(inbox.list().items).toEqual([]);
    inbox.settle(scope, [], 'resumed');
    inbox.settle(scope, [budget()], 'paused again');
    expect(inbox.list().items.map((i) => i.id)).toEqual(['i2']);
  });

  it('an item closed by carrying out its answer counts as answered, not as obsolete', async () => {
    const { inbox } = await openInbox();
    const scope = (item: { type: InboxItemType }) => item.type === 'budget';
    inbox.settle(scope, [budget()], 'paused');
    inbox.actOnAnswers(() => {
      inbox.settle(scope, [], 'the run is executing now');
      return Promise.resolve();
    });
    const item = await inbox.answer('i1', { choice: 'resume' });
    expect(item.closed).toEqual({ reason: 'answered', choice: 'resume' });
  });

  it('pushes an item when it opens, and a permission only once the grace passed unanswered', async () => {
    const { inbox } = await openInbox(undefined, 30_000);
    const events: InboxEvent[] = [];
    inbox.subscribe((event) => events.push(event));
    inbox.open(budget());
    const permission = (key: string): ItemSpec => ({
      type: 'permission',
      runId: 'r1',
      taskId: 't1',
      attempt: 1,
      key,
      question: 'worker 0 asks to use Bash',
      choices: [{ id: 'allow', key: 'a', label: 'allow' }],
    });
    inbox.open(permission('p1'));
    inbox.open(permission('p2'));
    const notified = () => events.filter((e) => e.type === 'inbox.notified').map((e) => e.item.id);
    expect(notified()).toEqual(['i1']);
    clock.advance(10_000);
    await inbox.answer('i2', { choice: 'allow' });
    clock.advance(25_000);
    await Promise.resolve();
    expect(notified()).toEqual(['i1', 'i3']);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('an item that expires closes by itself, and its listener hears how', async () => {
    const { inbox } = await openInbox();
    const heard: string[] = [];
    inbox.open(
      {
        type: 'permission',
        runId: 'r1',
        key: 'p',
        question: 'q',
        choices: [{ id: 'allow', key: 'a', label: 'allow' }],
        expiresAt: clock.now() + 600_000,
      },
      (item) => heard.push(item.closed!.reason),
    );
    clock.advance(599_000);
    await Promise.resolve();
    expect(heard).toEqual([]);
    clock.advance(1_000);
    await Promise.resolve();
    expect(heard).toEqual(['expired']);
    expect(inbox.waitsOf('r1')).toEqual({ agentMs: 600_000, permissions: 1, runMs: 0 });
  });

  it('replays the events after any id, then goes on live, without gap or duplicate', async () => {
    const { inbox } = await openInbox();
    inbox.open(budget());
    inbox.open(failed('a'));
    await inbox.answer('i1', { choice: 'cancel' });
    const abort = new AbortController();
    const seen: InboxEvent[] = [];
    const reading = (async () => {
      for await (const event of inbox.events(1, abort.signal)) {
        seen.push(event);
        if (seen.length === 4) abort.abort();
      }
    })();
    await Promise.resolve();
    inbox.open(failed('b'));
    await reading;
    expect(seen.map((e) => [e.id, e.type, e.item.id])).toEqual([
      [2, 'inbox.notified', 'i1'],
      [3, 'inbox.opened', 'i2'],
      [4, 'inbox.notified', 'i2'],
      [5, 'inbox.closed', 'i1'],
    ]);
    // An opened event replays the item as it was then, open.
    const replayed = [];
    const again = new AbortController();
    for await (const event of inbox.events(0, again.signal)) {
      replayed.push(event);
      if (replayed.length === 1) again.abort();
    }
    expect(replayed[0]).toMatchObject({ type: 'inbox.opened', item: { id: 'i1', status: 'open' } });
    expect(replayed[0]!.item.closed).toBeUndefined();
  });

  it('revises an open item to what its key asks for now, once, and keeps and replays the revision', async () => {
    const path = join(home.home, 'inbox.json');
    const { inbox } = await openInbox(path);
    inbox.open(failed('a'));
    const events: InboxEvent[] = [];
    inbox.subscribe((event) => events.push(event));
    const fewer = {
      ...failed('a'),
      question: 'task a failed; its run has ended',
      choices: failed('a').choices.slice(0, 1),
    };
    expect(inbox.open(fewer)).toMatchObject({ id: 'i1', question: fewer.question, choices: fewer.choices });
    inbox.open(fewer);
    expect(events.map((e) => [e.id, e.type, e.item.choices.length])).toEqual([[3, 'inbox.revised', 1]]);
    expect(((await failure(inbox.answer('i1', { choice: 'skip' }))) as Error).message).toBe(
      'inbox item i1 (task_failed) takes retry; got "skip"',
    );
    await inbox.stop();

    const second = await openInbox(path);
    expect(second.inbox.list().items[0]).toMatchObject({ question: fewer.question, choices: fewer.choices });
    const replayed: InboxEvent[] = [];
    const done = new AbortController();
    for await (const event of second.inbox.events(0, done.signal)) {
      replayed.push(event);
      if (replayed.length === 3) done.abort();
    }
    expect(replayed.map((e) => [e.id, e.type])).toEqual([
      [1, 'inbox.opened'],
      [2, 'inbox.notified'],
      [3, 'inbox.revised'],
    ]);
    expect(replayed[2]!.item).not.toHaveProperty('revisedAt');
  });

  it('survives a restart: items, ids and the event count go on; a permission of the dead daemon closes', async () => {
    const path = join(home.home, 'inbox.json');
    const first = await openInbox(path);
    first.inbox.open(budget());
    first.inbox.open({ ...failed('a'), type: 'permission', key: 'p1' });
    await first.inbox.stop();
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const second = await openInbox(path);
    const items = second.inbox.list({ all: true }).items;
    expect(items.map((i) => [i.id, i.status, i.closed?.reason])).toEqual([
      ['i1', 'open', undefined],
      ['i2', 'closed', 'obsolete'],
    ]);
    expect(second.inbox.open(budget('r2'))!.id).toBe('i3');
    expect(second.inbox.lastId).toBeGreaterThan(first.inbox.lastId);
    await second.inbox.stop();
  });

  it('keeps items in memory while the file cannot be written, and writes them once it can', async () => {
    const dir = join(home.home, 'not-yet');
    const path = join(dir, 'inbox.json');
    const { inbox } = await openInbox(path);
    const events: InboxEvent[] = [];
    inbox.subscribe((event) => events.push(event));
    inbox.open(budget());
    inbox.open(budget('r2'));
    // Nothing is held back because the disk is: the items and their events are there at once.
    expect(inbox.list().items).toHaveLength(2);
    expect(events.filter((e) => e.type === 'inbox.opened')).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(existsSync(path)).toBe(false);

    await mkdir(dir);
    clock.advance(60_000);
    await waitFor(() => existsSync(path));
    const doc = JSON.parse(await readFile(path, 'utf8')) as { items: { id: string }[] };
    expect(doc.items.map((i) => i.id)).toEqual(['i1', 'i2']);
    await inbox.stop();
  });

  it('a damaged file is kept aside and the inbox starts empty', async () => {
    const path = join(home.home, 'inbox.json');
    await writeFile(path, '{"version": 1, "items": [tor');
    const { inbox } = await openInbox(path);
    expect(inbox.list({ all: true }).items).toEqual([]);
    expect((await readdir(home.home)).some((name) => name.startsWith('inbox.json.damaged-'))).toBe(true);
    await inbox.stop();
    await rm(path, { force: true });
  });

  it('forgets a removed run: its items close and go, with what it waited', async () => {
    const { inbox } = await openInbox();
    inbox.open(budget());
    inbox.open(budget('r2'));
    clock.advance(5_000);
    inbox.dropRun('r1', 'run r1 was removed', true);
    expect(inbox.list({ all: true }).items.map((i) => i.runId)).toEqual(['r2']);
    expect(inbox.waitsOf('r1')).toEqual({ agentMs: 0, permissions: 0, runMs: 0 });
    expect(inbox.waitsOf('r2').runMs).toBe(5_000);
  });

  it('counts a wait for the Redis server apart from a wait for a person', async () => {
    const { inbox } = await openInbox();
    inbox.open({
      ...budget(),
      type: 'backend',
      key: itemKey('backend', 'r1'),
      question: 'run r1 is paused: the Redis server its workers use cannot be reached',
    });
    clock.advance(7_000);
    expect(inbox.waitsOf('r1')).toEqual({ agentMs: 0, permissions: 0, runMs: 0, backendMs: 7_000 });
  });

  it('counts a usage limit and a full disk apart from a wait for a person: both end by themselves', async () => {
    const { inbox } = await openInbox();
    const runPause = (type: 'quota' | 'storage', runId: string) => ({
      ...budget(runId),
      type,
      key: itemKey(type, runId),
      question: `run ${runId} is paused (${type})`,
    });
    inbox.open(runPause('quota', 'r1'));
    inbox.open(runPause('storage', 'r2'));
    clock.advance(9_000);
    expect(inbox.waitsOf('r1')).toEqual({ agentMs: 0, permissions: 0, runMs: 0, quotaMs: 9_000 });
    expect(inbox.waitsOf('r2')).toEqual({ agentMs: 0, permissions: 0, runMs: 0, storageMs: 9_000 });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
