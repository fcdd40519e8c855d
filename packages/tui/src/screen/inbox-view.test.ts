import type { InboxItem, RunView } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { renderHeader } from './header.js';
import { renderInbox, waitingLabel } from './inbox-view.js';
import { cellWidth } from './text-cells.js';

const plain = (markup: string) =>
  markup
    .replace(/\{(?!open\}|close\})\/?[a-z-]+\}/g, '')
    .replace(/\{open\}/g, '{')
    .replace(/\{close\}/g, '}');
const NOW = Date.parse('2025-01-01T00:10:00.000Z');

const plan: InboxItem = {
  id: 'i1',
  type: 'plan_approval',
  runId: 'r1',
  question: 'run r1 planned 3 tasks: approve the plan?',
  detail: Array.from({ length: 40 }, (_, i) => `t${i + 1}: a task {with braces}`).join('\n'),
  choices: [
    { id: 'approve', key: 'a', label: 'approve: the workers start' },
    { id: 'edit', key: 'e', label: 'have the manager change it', needsNote: true },
  ],
  openedAt: '2025-01-01T00:07:30.000Z',
  status: 'open',
};
const permission: InboxItem = {
  id: 'i2',
  type: 'permission',
  runId: 'r2',
  taskId: 'fetch',
  attempt: 2,
  question: 'Bash: curl -s https://example.invalid/x',
  choices: [{ id: 'allow', key: 'a', label: 'allow this call' }],
  openedAt: '2025-01-01T00:09:50.000Z',
  expiresAt: '2025-01-01T00:19:50.000Z',
  status: 'open',
};

describe('the inbox panel', () => {
  it('lists the items with type, run and task, time waited and question, then the selected one whole', () => {
    const lines = plain(
      renderInbox({ items: [plan, permission], selected: 1, runId: 'r1', now: NOW, width: 100, height: 30 }),
    ).split('\n');
    expect(lines[0]).toBe('2 items wait for you: 1 in this run (listed first), 1 in other runs');
    expect(lines).toContainEqual(
      expect.stringMatching(/^i1 +plan_approval +r1 +2m30s +run r1 planned 3 tasks/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^i2 +permission +r2\/fetch +10s +Bash: curl -s/));
    expect(lines).toContain('i2 permission · run r2 · task fetch · attempt 2');
    expect(lines).toContain('denied by itself in 9m50s unless answered');
    expect(lines).toContain('  a  allow this call');
    for (const line of lines) expect(cellWidth(line)).toBeLessThanOrEqual(100);
  });

  it('shows the keys, what the last key did, and as much of the detail as fits', () => {
    const lines = plain(
      renderInbox({
        items: [plan],
        selected: 0,
        runId: 'r1',
        now: NOW,
        width: 80,
        height: 24,
        status: { level: 'error', text: 'answering i1 edit failed: item i1 is closed' },
      }),
    ).split('\n');
    expect(lines[0]).toBe('1 item waits for you, in this run');
    expect(lines).toContain('  e  have the manager change it (asks for a note)');
    expect(lines).toContain('answering i1 edit failed: item i1 is closed');
    expect(lines).toContain('t1: a task {with braces}');
    expect(lines.at(-1)).toMatch(/^… \d+ more lines \(orc inbox shows the item\)$/);
    expect(lines.length).toBeLessThanOrEqual(24);
  });

  it('says when nothing waits, and when the inbox cannot be followed', () => {
    const text = plain(
      renderInbox({
        items: [],
        selected: 0,
        runId: 'r1',
        now: NOW,
        width: 80,
        height: 10,
        error: 'connection closed',
      }),
    );
    expect(text).toBe('Nothing waits for you.\nCannot follow the inbox (connection closed); retrying.');
  });
});

describe('the waiting count', () => {
  it("counts this run's items and the other runs' apart, and nothing when nothing waits", () => {
    expect(waitingLabel({ run: 0, all: 0 })).toBeUndefined();
    expect(waitingLabel({ run: 2, all: 2 })).toBe('2 waiting · i');
    expect(waitingLabel({ run: 0, all: 3 })).toBe('3 waiting in other runs · i');
    expect(waitingLabel({ run: 1, all: 3 })).toBe('1 waiting, 2 in other runs · i');
  });

  it('sits in the header before the SIMULATED badge, the goal giving way', () => {
    const view = {
      id: 'r1',
      goal: 'A goal long enough to be cut when the header has the count and the badge to show as well',
      status: 'awaiting_approval',
      models: {
        manager: { provider: 'simulated', model: 'opus' },
        worker: { provider: 'simulated', model: 'sonnet' },
        simulated: true,
      },
      maxWorkers: 2,
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      taskCounts: {},
      taskTotal: 3,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
      lastEventId: 3,
      tasks: [],
      busyWorkers: 0,
    } satisfies RunView;
    const lines = renderHeader(view, {
      width: 80,
      now: NOW,
      showProgressBar: true,
      waiting: { run: 1, all: 1 },
    }).map(plain);
    expect(lines[0]).toMatch(/^run r1 · A goal long.*… +1 waiting · i {3}SIMULATED $/);
    expect(cellWidth(lines[0]!)).toBe(80);
    expect(lines.at(-1)).toBe('The plan waits for your approval: press i to answer.');
    // Where the count of each does not fit, the sum does.
    const narrow = renderHeader(view, {
      width: 50,
      now: NOW,
      showProgressBar: true,
      waiting: { run: 1, all: 3 },
    });
    expect(plain(narrow[0]!)).toMatch(/^run r1 · A goal.*… +3 waiting · i {3}SIMULATED $/);
    expect(cellWidth(plain(narrow[0]!))).toBe(50);
  });
});
