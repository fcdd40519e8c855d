import type { OrcEvent, RunView, TaskRecord, TaskStatus } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AttachState } from './attach-state.js';
import { describeEvent, eventLineMarkup } from './event-line.js';
import { formatCost, formatDuration, formatTokens, progressBar } from './format.js';
import { LOST_ALERTS } from './daemon-restart.js';
import { renderHeader } from './header.js';
import { keyHints } from './help.js';
import { renderTableHeader, renderTaskRow, scrollWindow, tableColumns } from './task-table.js';
import { renderTaskDetail } from './task-detail.js';
import { cellWidth, escapeTags, fitCells, plainText, wrapCells } from './text-cells.js';
import { tailLines } from './worker-output.js';

/** Markup without blessed tags, as the terminal would show the text. */
const plain = (markup: string) =>
  markup
    .replace(/\{(?!open\}|close\})\/?[a-z-]+\}/g, '')
    .replace(/\{open\}/g, '{')
    .replace(/\{close\}/g, '}');
const NOW = Date.parse('2025-01-01T00:10:00.000Z');

function task(over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: 't1',
    title: 'Write the intro',
    description: 'An intro',
    dependencies: [],
    priority: 'medium',
    status: 'pending',
    attempts: [],
    reworks: 0,
    ...over,
  };
}

function view(over: Partial<RunView> = {}): RunView {
  return {
    id: 'r-42',
    goal: 'Document the {daemon}',
    status: 'executing',
    models: {
      manager: { provider: 'simulated', model: 'opus' },
      worker: { provider: 'simulated', model: 'sonnet' },
      simulated: true,
    },
    maxWorkers: 3,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    taskCounts: { done: 5, running: 2, pending: 3 },
    taskTotal: 10,
    usage: { inputTokens: 12_345, outputTokens: 678, cacheReadTokens: 0, cacheWriteTokens: 0 },
    costUsd: 0.1234,
    lastEventId: 9,
    tasks: [],
    busyWorkers: 2,
    ...over,
  };
}

describe('formatting', () => {
  it('formats durations, tokens and cost compactly', () => {
    expect([
      formatDuration(0),
      formatDuration(45_000),
      formatDuration(725_000),
      formatDuration(11_220_000),
      formatDuration(400),
      formatDuration(20),
      formatDuration(999),
    ]).toEqual(['0s', '45s', '12m05s', '3h07m', '0.4s', '<0.1s', '1s']);
    expect([formatTokens(950), formatTokens(12_345), formatTokens(4_560_000)]).toEqual([
      '950',
      '12.3k',
      '4.56M',
    ]);
    // The shared format (its cases are in shared's cost.test.ts), as the screen imports it.
    expect([formatCost(0.1234), formatCost(0.00064)]).toEqual(['$0.123', '$0.00064']);
  });

  it('draws a progress bar of exactly the width asked', () => {
    expect(progressBar(5, 10, 20)).toBe('[███████░░░░░░░] 50%');
    expect(progressBar(0, 0, 12)).toHaveLength(12);
    expect(progressBar(10, 10, 12)).toBe('[█████] 100%');
  });

  it('measures wide characters and emoji as two cells and pads to a fixed width', () => {
    expect(cellWidth('ab日本😀')).toBe(8);
    expect(cellWidth('e\u0301')).toBe(1);
    expect(fitCells('日本語のタイトル', 7)).toBe('日本語…');
    expect(cellWidth(fitCells('日本語のタイトル', 7))).toBe(7);
    expect(fitCells('ab', 5, 'right')).toBe('   ab');
  });

  it('wraps text at spaces, and breaks a word longer than a line (a path) rather than cutting it', () => {
    expect(wrapCells('one two three', 8)).toEqual(['one two', 'three']);
    const path = '/a/very/long/path/to/state.json';
    const lines = wrapCells(`Damaged: ${path} is bad`, 12);
    expect(lines.every((line) => cellWidth(line) <= 12)).toBe(true);
    expect(lines.join('').replace(/ /g, '')).toBe(`Damaged:${path}isbad`);
    expect(wrapCells('文档を書く', 3)).toEqual(['文', '档', 'を', '書', 'く']);
  });

  it('removes escape sequences and control characters from model output', () => {
    expect(plainText('\x1b[31mred\x1b[0m\r\nnext\x07\ttab')).toBe('red\nnext  tab');
    expect(escapeTags('{bold}')).toBe('{open}bold{close}');
  });

  it('turns glyphs terminals draw at different widths into ones they agree on', () => {
    // Flag, heart with the emoji selector, thumbs up with a skin tone, a family joined by ZWJs.
    expect(plainText('🇫🇷 ❤️ 👍🏽 👨\u200d👩\u200d👧')).toBe('FR ❤ 👍 👨');
    expect(cellWidth(plainText('🇫🇷 ❤️ 👍🏽 👨\u200d👩\u200d👧'))).toBe(2 + 1 + 1 + 1 + 2 + 1 + 2);
  });
});

describe('key line', () => {
  it('fits the terminal, keeps ? and q, and says there are more keys when it left some out', () => {
    for (const width of [40, 60, 80, 100, 160]) {
      const line = keyHints(width);
      expect(cellWidth(line), `${width}`).toBeLessThanOrEqual(width);
      expect(line, `${width}`).toMatch(/\? (help|more keys) {2}q detach$/);
    }
    expect(keyHints(80)).toContain('? more keys');
    expect(keyHints(80)).toContain('p pause/resume');
    expect(keyHints(160)).toContain('f filter');
    expect(keyHints(180)).toContain('Tab next run');
    expect(keyHints(100)).toContain('i inbox');
    expect(keyHints(180)).toContain('? help');
    // A damaged run takes no action: its line offers none.
    const damaged = keyHints(180, { damaged: true });
    for (const acting of ['p pause', 'x cancel', 'r retry', 's skip', 'X cancel task', 'b rollback'])
      expect(damaged).not.toContain(acting);
    expect(damaged).toContain('i inbox');
  });
});

describe('header', () => {
  // Times are the reader's local time: a zone of its own (not UTC, not the machine's), so the times
  // expected are exact in any zone the tests run in (in UTC-1 the quota wait below ended "tomorrow").
  beforeEach(() => vi.stubEnv('TZ', 'Asia/Kolkata'));
  afterEach(() => vi.unstubAllEnvs());

  it("shows the run's working time, as orc ls and orc show do: not the time it was paused", () => {
    // Ten minutes since it was created: paused four minutes of them, and paused again for the last one.
    const paused = view({
      status: 'paused',
      pauseReason: 'user',
      idleMs: 240_000,
      idleSince: '2025-01-01T00:09:00.000Z',
    });
    const lines = renderHeader(paused, { width: 120, now: NOW, showProgressBar: true }).map(plain);
    expect(lines[1]).toMatch(/^PAUSED \(USER\) {2}time 5m00s {2}/);
    // A finished run stops at its end; one reopened counts the time it stood finished as idle.
    const finished = view({ status: 'completed', finishedAt: '2025-01-01T00:06:00.000Z', idleMs: 60_000 });
    expect(renderHeader(finished, { width: 120, now: NOW, showProgressBar: true }).map(plain)[1]).toMatch(
      /^COMPLETED {2}time 5m00s {2}/,
    );
  });

  it('shows run, goal, state, working time, workers, tokens, cost, provider, SIMULATED and progress', () => {
    const lines = renderHeader(view(), { width: 120, now: NOW, showProgressBar: true }).map(plain);
    expect(lines[0]).toMatch(/^run r-42 · Document the \{daemon\} +SIMULATED $/);
    expect(cellWidth(lines[0]!)).toBe(120);
    expect(lines[1]).toBe(
      'EXECUTING  time 10m00s  workers 2/3  tokens 12.3k in / 678 out  cost $0.123  provider simulated (opus / sonnet)',
    );
    expect(lines[2]).toMatch(/^\[█+░+\] 50% {2}5\/10 done · 2 running$/);
    expect(lines).toHaveLength(3);
  });

  it('shows where the run is heading: its forecast cost and finish time', () => {
    const finishAt = '2025-01-01T00:25:00.000Z';
    const ahead = view({ forecast: { costUsd: 0.5, finishAt } });
    const wide = renderHeader(ahead, { width: 160, now: NOW, showProgressBar: true }).map(plain);
    // 00:25 UTC is 05:55 in Kolkata (UTC+5:30).
    expect(wide[1]).toContain('cost $0.123  forecast $0.50, done 05:55');
    const narrow = renderHeader(ahead, { width: 90, now: NOW, showProgressBar: true }).map(plain);
    expect(narrow[1]).toContain('→$0.50 05:55');
  });

  it('leaves out the bar when show_progress_bar is off, and the badge for real models', () => {
    const real = view({
      models: {
        manager: { provider: 'anthropic', model: 'claude-opus-5-5' },
        worker: { provider: 'anthropic', model: 'claude-sonnet-5-5' },
        simulated: false,
      },
    });
    const lines = renderHeader(real, { width: 80, now: NOW, showProgressBar: false }).map(plain);
    expect(lines[0]).not.toContain('SIMULATED');
    expect(lines[2]).toBe('5/10 done · 2 running');
  });

  it('fills the bar with the tasks done, as its count says: failed ones are told apart, not progress', () => {
    const failing = view({ taskCounts: { done: 0, failed: 2, pending: 1 }, taskTotal: 3 });
    const lines = renderHeader(failing, { width: 120, now: NOW, showProgressBar: true }).map(plain);
    expect(lines[2]).toMatch(/^\[░+\] 0% {2}0\/3 done · 2 failed/);
    const plainLine = renderHeader(failing, { width: 120, now: NOW, showProgressBar: false }).map(plain);
    expect(plainLine[2]).toMatch(/^0\/3 done · 2 failed/);
  });

  it('shows the merge train: what is verified and for how long, what waits, the last verdict', () => {
    const lines = renderHeader(
      view({
        tasks: [task({ id: 't1', status: 'merging' }), task({ id: 't2', status: 'merging' })],
        train: {
          verifying: { taskIds: ['t1'], commit: 'a'.repeat(40), since: '2025-01-01T00:09:30.000Z' },
          last: { taskIds: ['t0'], commit: 'b'.repeat(40), passed: false, at: '', reason: 'exited 1' },
        },
      }),
      { width: 140, now: NOW, showProgressBar: true },
    ).map(plain);
    expect(lines[3]).toBe(
      `train: verifying t1 at ${'a'.repeat(12)} (30s) · waiting t2 · last: t0 failed (exited 1)`,
    );
    const paused = renderHeader(
      view({
        status: 'paused',
        pauseReason: 'verify',
        train: { last: { taskIds: [], commit: 'c', passed: false, at: '', reason: 'exited 127: not found' } },
      }),
      { width: 140, now: NOW, showProgressBar: true },
    ).map(plain);
    expect(paused[4]).toBe(
      'Paused because integration.verify cannot pass: exited 127: not found. Press p to resume.',
    );
  });

  it('says why a run is paused, and shows an alert above everything else', () => {
    const paused = renderHeader(view({ status: 'paused', pauseReason: 'budget' }), {
      width: 100,
      now: NOW,
      showProgressBar: true,
    });
    expect(plain(paused[1]!)).toMatch(/^PAUSED \(BUDGET\)/);
    // p alone goes past the budget: the notice says so, and how to set a new one.
    expect(plain(paused[3]!)).toBe(
      'Paused at its budget. Press p to go on past it; orc resume r-42 --budget <usd> sets a new one.',
    );
    const told = renderHeader(
      view({
        status: 'paused',
        pauseReason: 'budget',
        pauseMessage: 'spent $3.00 of the $5.00 budget, and the next task (b) needs about $2.50',
      }),
      { width: 200, now: NOW, showProgressBar: true },
    );
    expect(plain(told[3]!)).toBe(
      'Paused at its budget: spent $3.00 of the $5.00 budget, and the next task (b) needs about $2.50. Press p to go on past it.',
    );
    // A held run is not undone by p (it pauses again): the notice says what does.
    const held = renderHeader(view({ status: 'paused', pauseReason: 'held' }), {
      width: 140,
      now: NOW,
      showProgressBar: true,
    });
    expect(plain(held[3]!)).toBe(
      'Paused: the work left waits for a task you cancelled. Select it and press r to retry or s to skip it.',
    );
    const resumeAt = '2025-01-01T01:05:00.000Z';
    const quota = renderHeader(
      view({ status: 'paused', pauseReason: 'quota', resumeAt, quotaModel: 'claude-sonnet-5-5' }),
      { width: 140, now: NOW, showProgressBar: true },
    );
    // The reader's own clock: 01:05 UTC is 06:35 in Kolkata, the same day as now (05:40 there).
    expect(plain(quota[1]!)).toMatch(/^WAITING FOR QUOTA UNTIL 06:35 {2}time/);
    expect(plain(quota[3]!)).toBe(
      'Waiting for the quota of claude-sonnet-5-5. It goes on by itself at 06:35. Press p to resume now.',
    );
    // A wait that ends on another day names it: 21:00 UTC is 02:30 the next day in Kolkata.
    const tomorrow = renderHeader(
      view({ status: 'paused', pauseReason: 'quota', resumeAt: '2025-01-01T21:00:00.000Z' }),
      { width: 140, now: NOW, showProgressBar: true },
    );
    expect(plain(tomorrow[3]!)).toBe(
      'Waiting for the quota of the account. It goes on by itself at 02:30 on 2025-01-02. Press p to resume now.',
    );
    const lost = renderHeader(view(), {
      width: 100,
      now: NOW,
      showProgressBar: true,
      alert: 'Cannot reach the daemon',
    });
    expect(lost[3]).toContain('{red-fg}Cannot reach the daemon');
    const source = renderHeader(view({ status: 'paused', pauseReason: 'source' }), {
      width: 100,
      now: NOW,
      showProgressBar: true,
    });
    expect(plain(source[3]!)).toBe('Paused because the Task Master file cannot be read. Press p to resume.');
    const opts = { width: 140, now: NOW, showProgressBar: true };
    // It said "because you paused it" under a PAUSED (ROLLBACK) header.
    const rolledBack = renderHeader(view({ status: 'paused', pauseReason: 'rollback' }), opts);
    expect(plain(rolledBack[3]!)).toBe(
      'Paused because it was rolled back to a checkpoint: look over the tasks it reset. Press p to resume.',
    );
    const message =
      'Redis at redis://127.0.0.1:1 cannot be reached; the run goes on by itself once it answers (start the server)';
    const backend = renderHeader(view({ status: 'paused', pauseReason: 'backend', pauseMessage: message }), {
      ...opts,
      width: 200,
    });
    expect(plain(backend[3]!)).toBe(`Paused: ${message}.`);
  });

  it('says the run is writing its final review, or overdue, rather than a finish time already past', () => {
    // The forecast made with no task left is the instant it was made: a time soon past.
    const past = '2025-01-01T00:09:00.000Z';
    const header = (status: RunView['status'], width: number) =>
      plain(
        renderHeader(view({ status, forecast: { costUsd: 0.5, finishAt: past } }), {
          width,
          now: NOW,
          showProgressBar: true,
        })[1]!,
      );
    expect(header('reviewing', 160)).toContain('forecast $0.50, final review');
    expect(header('reviewing', 90)).toContain('→$0.50 final review');
    expect(header('reviewing', 160)).not.toContain('05:39');
    expect(header('executing', 160)).toContain('forecast $0.50, overdue');
  });

  it("gives a damaged run's file and fix whole, on lines of their own, even where one line cannot hold them", () => {
    const file = '/home/someone/.local/state/orc/runs/r-42/state.json';
    const damaged = view({
      status: 'damaged',
      damage: { file, reason: 'is not valid JSON (line 3)', at: '2025-01-01T00:05:00.000Z' },
    });
    for (const width of [160, 80]) {
      const lines = renderHeader(damaged, { width, now: NOW, showProgressBar: true }).map(plain);
      const notice = lines.slice(3).join(' ');
      expect(notice).toContain(
        `Damaged: ${file} is not valid JSON (line 3). The run is kept as it is and not run.`,
      );
      expect(notice).toContain(
        'fix: orc rm r-42 removes it; or put back a good copy of the file and restart the daemon (orc daemon stop, then orc daemon start) to read it again',
      );
      for (const line of lines) expect(cellWidth(line)).toBeLessThanOrEqual(width);
    }
    // The fix starts a line of its own.
    const wide = renderHeader(damaged, { width: 160, now: NOW, showProgressBar: true }).map(plain);
    expect(wide.some((line) => line.startsWith('fix: orc rm r-42 removes it'))).toBe(true);
  });

  it('wraps an alert over two lines rather than cutting off what brings the daemon back', () => {
    const alert = LOST_ALERTS.stopped;
    const lines = renderHeader(view(), { width: 100, now: NOW, showProgressBar: true, alert }).map(plain);
    expect(lines.slice(3).join(' ')).toBe(alert);
    expect(alert).toContain('orc daemon start in another terminal brings it back and this screen follows');
    expect(alert).toContain("the run's time stands still");
  });

  it('says a simulated run writes nothing to Task Master', () => {
    const lines = renderHeader(
      view({ source: { kind: 'taskmaster', file: '/p/tasks.json', tag: 'master', writeBack: false } }),
      { width: 100, now: NOW, showProgressBar: true },
    );
    expect(plain(lines[3]!)).toBe(
      'Simulated: nothing is written to Task Master (--write-simulated writes it).',
    );
  });

  it('drops the model names before cutting the line on a narrow terminal', () => {
    const line = plain(renderHeader(view(), { width: 100, now: NOW, showProgressBar: true })[1]!);
    expect(line).toMatch(/provider simulated$/);
  });

  it('fits every line into 80 columns: shorter labels, then no provider, counts cut last', () => {
    const busy = view({
      status: 'paused',
      pauseReason: 'provider',
      goal: '写一份迁移指南 📝 for the v2 API, with every endpoint and example',
      taskCounts: {
        done: 5,
        running: 2,
        reviewing: 3,
        ready: 4,
        failed: 1,
        blocked: 2,
        skipped: 1,
        cancelled: 1,
      },
      taskTotal: 1000,
    });
    const lines = renderHeader(busy, { width: 80, now: NOW, showProgressBar: true }).map(plain);
    for (const line of lines) expect(cellWidth(line), line).toBeLessThanOrEqual(80);
    expect(lines[1]).toBe('PAUSED (PROVIDER)  time 10m00s  workers 2/3  tokens 12.3k/678  cost $0.123');
    const executing = plain(renderHeader(view(), { width: 80, now: NOW, showProgressBar: true })[1]!);
    expect(executing).toBe('EXECUTING  time 10m00s  workers 2/3  tokens 12.3k/678  cost $0.123  simulated');
  });
});

describe('task table', () => {
  it("marks a ready task waiting for another task's files, in the row and in the detail", () => {
    const cols = tableColumns(100, 3);
    const ready = task({ id: 't5', status: 'ready', touches: ['src/{a,b}.ts'] });
    const row = renderTaskRow(ready, cols, NOW, { path: 'src/{a,b}.ts', holder: 't3' });
    expect(cellWidth(plain(row))).toBe(100);
    expect(plain(row)).toMatch(/^t5 +waits for src\/\{a,b\}\.ts held by t3 · Write the intro +ready /);
    expect(row).toContain('{yellow-fg}waits for src/{open}a,b{close}.ts held by t3');
    const detail = plain(renderTaskDetail(ready, NOW, { path: 'src/{a,b}.ts', holder: 't3' }));
    expect(detail).toContain('Waits for files\n  waits for src/{a,b}.ts held by t3');
    expect(detail).toContain('Touches\n  src/{a,b}.ts');
  });

  it('renders rows of exactly the table width with coloured status', () => {
    const cols = tableColumns(70, 3);
    const header = renderTableHeader(cols);
    expect(cellWidth(header)).toBe(70);
    expect(header).toMatch(/^ID +TITLE +STATUS +WORKER +ATT +TIME$/);
    const running = task({
      id: 't12',
      title: 'A very long title that will not fit in the column at all, not even close',
      status: 'running',
      worker: 2,
      startedAt: '2025-01-01T00:09:15.000Z',
      attempts: [
        {
          n: 1,
          worker: 2,
          startedAt: '2025-01-01T00:09:15.000Z',
          outcome: 'running',
          usage: view().usage,
          costUsd: 0,
        },
      ],
    });
    const row = renderTaskRow(running, cols, NOW);
    expect(row).toContain('{yellow-fg}running');
    expect(cellWidth(plain(row))).toBe(70);
    expect(plain(row)).toMatch(/^t12 A very long title .*… running +w2 +1 +45s$/);
    expect(plain(renderTaskRow(task(), cols, NOW))).toMatch(/pending +- +0 +-$/);
    expect(renderTaskRow(task({ status: 'failed' }), cols, NOW)).toContain('{red-fg}failed');
  });

  it("shows a task's working time, as orc show does: its attempts, not first start to end", () => {
    const usage = view().usage;
    // Two attempts of 30 s each, with a review and a paused run between them (00:01:00 to 00:08:00).
    const reworked = task({
      status: 'done',
      worker: 0,
      startedAt: '2025-01-01T00:00:30.000Z',
      finishedAt: '2025-01-01T00:08:40.000Z',
      attempts: [
        {
          n: 1,
          worker: 0,
          startedAt: '2025-01-01T00:00:30.000Z',
          endedAt: '2025-01-01T00:01:00.000Z',
          outcome: 'succeeded',
          usage,
          costUsd: 0,
        },
        {
          n: 2,
          worker: 0,
          startedAt: '2025-01-01T00:08:00.000Z',
          endedAt: '2025-01-01T00:08:30.000Z',
          outcome: 'succeeded',
          usage,
          costUsd: 0,
        },
      ],
    });
    expect(plain(renderTaskRow(reworked, tableColumns(70, 3), NOW))).toMatch(/ 2 +1m00s$/);
    expect(plain(renderTaskDetail(reworked, NOW))).toContain('2 attempts · 0 reworks · time 1m00s');
  });

  it('scrolls a window over thousands of rows, keeping the selection visible', () => {
    expect(scrollWindow(5000, 0, 0, 20)).toBe(0);
    expect(scrollWindow(5000, 25, 0, 20)).toBe(6);
    expect(scrollWindow(5000, 10, 6, 20)).toBe(6);
    expect(scrollWindow(5000, 3, 6, 20)).toBe(3);
    expect(scrollWindow(5000, 4999, 0, 20)).toBe(4980);
    expect(scrollWindow(10, 9, 0, 20)).toBe(0);
  });
});

describe('task detail', () => {
  it('lists description, dependencies, each attempt with its error or result, and review feedback', () => {
    const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const text = plain(
      renderTaskDetail(
        task({
          dependencies: ['t0'],
          status: 'done',
          attempts: [
            {
              n: 1,
              worker: 0,
              startedAt: '2025-01-01T00:00:00Z',
              endedAt: '2025-01-01T00:00:04Z',
              outcome: 'failed',
              usage,
              costUsd: 0,
              error: { category: 'transient', message: '429 rate limited' },
            },
            {
              n: 2,
              worker: 1,
              startedAt: '2025-01-01T00:00:05Z',
              outcome: 'succeeded',
              usage,
              costUsd: 0.01,
              output: 'The intro.',
              review: { verdict: 'rework', feedback: 'Add an example.' },
            },
          ],
        }),
        NOW,
      ),
    );
    expect(text).toContain('depends on: t0');
    expect(text).toContain('An intro');
    expect(text).toContain('Attempt 1 · w0 · failed · 4s');
    expect(text).toContain('[TRANSIENT] 429 rate limited');
    expect(text).toContain('Attempt 2 · w1 · succeeded');
    expect(text).toContain('review: rework\n  Add an example.');
    expect(text).toContain('output:\n  The intro.');
  });

  it('says when a person changed the task in Task Master, and why a task is held', () => {
    const changed = task({
      status: 'blocked',
      held: 'set to deferred in Task Master (was pending): not started',
      sourceChange: {
        status: 'deferred',
        expected: 'pending',
        action: 'not-started',
        at: '2025-01-01T00:00:00Z',
      },
    });
    const text = plain(renderTaskDetail(changed, NOW));
    expect(text).toContain(
      'Changed at the source\n  set to deferred in Task Master (was pending): not started',
    );
    expect(text).toContain('Held\n  set to deferred in Task Master (was pending): not started');
    const line = describeEvent({
      id: 9,
      runId: 'r-42',
      at: '2025-01-01T00:00:00.000Z',
      type: 'task.source_changed',
      taskId: 't1',
      change: {
        status: 'removed',
        expected: 'in-progress',
        action: 'not-written',
        at: '2025-01-01T00:00:00Z',
      },
    });
    expect(line).toMatchObject({
      level: 'warn',
      text: 't1 removed from Task Master (was in-progress): its result was not written back over the change',
    });
  });
});

describe('event lines', () => {
  const base = { id: 3, runId: 'r-42', at: '2025-01-01T00:00:00.000Z' };
  it('marks errors with their category', () => {
    const line = describeEvent({
      ...base,
      type: 'task.attempt_failed',
      taskId: 't1',
      attempt: 2,
      error: { category: 'permanent', message: 'invalid request' },
    });
    expect(line).toMatchObject({
      level: 'error',
      category: 'permanent',
      text: 't1 attempt 2 failed: invalid request',
    });
    const markup = eventLineMarkup(line!);
    expect(markup).toContain('{red-fg}[PERMANENT]{/red-fg}');
    expect(plain(markup)).toMatch(/^\d\d:\d\d:\d\d \[PERMANENT\] t1 attempt 2 failed: invalid request$/);
  });

  it('counts in the singular for one: a checkpoint of one task done, a rollback resetting one', () => {
    const checkpoint = (tasksDone: number) =>
      describeEvent({
        ...base,
        type: 'checkpoint.created',
        checkpoint: {
          id: 'cp3',
          runId: 'r-42',
          createdAt: base.at,
          reason: 'manual',
          tasksDone,
          lastEventId: 2,
        },
      })?.text;
    expect(checkpoint(1)).toBe('checkpoint cp3 saved (1 task done)');
    expect(checkpoint(2)).toBe('checkpoint cp3 saved (2 tasks done)');
    const rolledBack = describeEvent({
      ...base,
      type: 'run.rolled_back',
      checkpointId: 'cp3',
      strategy: 'full',
      resetTasks: ['t1'],
    });
    expect(rolledBack?.text).toBe('rolled back to cp3 (full); 1 task reset: t1');
  });

  it('gives worker output no line (it has panes of its own)', () => {
    expect(
      describeEvent({ ...base, type: 'worker.output', taskId: 't1', worker: 0, text: 'x' }),
    ).toBeUndefined();
  });
});

describe('attach state', () => {
  it('folds queued events once per frame, ignoring ones the view already has, and streams worker output', () => {
    const state = new AttachState();
    state.reset(
      view({ tasks: [task(), task({ id: 't2' })], taskCounts: { pending: 2 }, taskTotal: 2, lastEventId: 9 }),
    );
    const at = '2025-01-01T00:01:00.000Z';
    const events: OrcEvent[] = [
      { id: 8, runId: 'r-42', at, type: 'task.assigned', taskId: 't2', worker: 0, attempt: 1 },
      { id: 10, runId: 'r-42', at, type: 'task.status', taskId: 't1', status: 'running' },
      { id: 11, runId: 'r-42', at, type: 'task.assigned', taskId: 't1', worker: 1, attempt: 1 },
      { id: 12, runId: 'r-42', at, type: 'worker.output', taskId: 't1', worker: 1, text: 'hello ' },
      { id: 13, runId: 'r-42', at, type: 'worker.output', taskId: 't1', worker: 1, text: 'world\x1b[2J' },
    ];
    events.forEach((e) => state.push(e));
    expect(state.view!.tasks[0]!.status).toBe('pending');
    expect(state.flush()).toBe(true);
    expect(state.view!.tasks.map((t) => t.status)).toEqual(['running', 'pending']);
    expect(state.busyWorkers().map((b) => [b.worker, b.taskId])).toEqual([[1, 't1']]);
    expect(state.outputs.text(1, 't1')).toBe('hello world');
    // Event 8 the view had: told on the pane (a run new to the screen), not folded again. A task's move
    // to running is told by its dispatch, which names the worker and the attempt.
    expect(state.lines.map((l) => l.text)).toEqual(['t2 → w0 (attempt 1)', 't1 → w1 (attempt 1)']);
    expect(state.flush()).toBe(false);
  });

  it("shows the end of an answer its stream did not tell (it came whole) on its worker's pane, once", () => {
    const state = new AttachState();
    state.reset(
      view({ tasks: [task(), task({ id: 't2' })], taskCounts: { pending: 2 }, taskTotal: 2, lastEventId: 0 }),
    );
    const at = '2025-01-01T00:01:00.000Z';
    const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const worked = (id: number, taskId: string, output: string, streamed?: number): OrcEvent => ({
      id,
      runId: 'r-42',
      at,
      type: 'task.worked',
      taskId,
      attempt: 1,
      output,
      ...(streamed !== undefined && { streamed }),
      usage,
      costUsd: 0,
    });
    const events: OrcEvent[] = [
      { id: 1, runId: 'r-42', at, type: 'task.assigned', taskId: 't1', worker: 0, attempt: 1 },
      { id: 2, runId: 'r-42', at, type: 'task.assigned', taskId: 't2', worker: 1, attempt: 1 },
      // t1's answer came whole: its worked event alone tells it.
      worked(3, 't1', 'all at once', 0),
      // t2 streamed its first part; the worked event tells the rest.
      { id: 4, runId: 'r-42', at, type: 'worker.output', taskId: 't2', worker: 1, text: 'first, ' },
      worked(5, 't2', 'first, then the rest', 'first, '.length),
    ];
    state.pushBatch(events);
    state.flush();
    expect(state.outputs.text(0, 't1')).toBe('all at once');
    expect(state.outputs.text(1, 't2')).toBe('first, then the rest');
    // A journal from before `streamed`: the stream told everything, the answer adds nothing.
    state.pushBatch([
      { id: 6, runId: 'r-42', at, type: 'task.assigned', taskId: 't1', worker: 0, attempt: 2 },
      { id: 7, runId: 'r-42', at, type: 'worker.output', taskId: 't1', worker: 0, text: 'streamed whole' },
      worked(8, 't1', 'streamed whole'),
    ]);
    state.flush();
    expect(state.outputs.text(0, 't1')).toBe('streamed whole');
  });

  it('holds a window of a large run: asks for the rows it shows, brings late pages up to the stream', () => {
    const state = new AttachState();
    const ids = Array.from({ length: 1000 }, (_, i) => `t${i + 1}`);
    const page = (offset: number, limit: number, lastEventId: number) => ({
      runId: 'r-42',
      lastEventId,
      offset,
      total: ids.length,
      tasks: ids.slice(offset, offset + limit).map((id) => task({ id, title: id })),
    });
    // The view carries the first rows only; the counts are the whole run's.
    state.reset(view({ ...page(0, 20, 5), taskCounts: { pending: 1000 }, taskTotal: 1000 }));
    expect(state.total).toBe(1000);
    expect(state.visibleTasks(10).tasks.every((t) => t !== undefined)).toBe(true);
    // What it shows is held: it asks for the last rows, for End (the first ones it has).
    expect(state.wantedRows()?.window).toEqual({ offset: 980, limit: 20 });
    // End jumps past what is held: the rows shown are not here yet, a window around them is wanted.
    state.moveTo(999);
    const shown = state.visibleTasks(10);
    expect(shown.first).toBe(990);
    expect(shown.tasks).toEqual(Array.from({ length: 10 }, () => undefined));
    expect(state.wantedRows()).toEqual({
      window: { offset: 970, limit: 30 },
      shows: { offset: 990, limit: 10 },
    });
    const at = '2025-01-01T00:01:00.000Z';
    const moved = (id: number, taskId: string, from: TaskStatus, status: TaskStatus): OrcEvent => ({
      id,
      runId: 'r-42',
      at,
      type: 'task.status',
      taskId,
      from,
      status,
    });
    // The stream is at event 7 when a page as of event 5 arrives: events 6 and 7 are folded into it.
    state.push(moved(6, 't1000', 'pending', 'ready'));
    state.push(moved(7, 't1', 'pending', 'ready'));
    state.flush();
    expect(state.view!.taskCounts).toEqual({ pending: 998, ready: 2 });
    state.takeRows(page(970, 30, 5));
    expect(state.visibleTasks(10).tasks.map((t) => t?.status)).toEqual([
      ...Array<TaskStatus>(9).fill('pending'),
      'ready',
    ]);
    expect(state.wantedRows()).toBeUndefined();
    expect(state.selectedTask()!.id).toBe('t1000');
    // PageUp twice: the rows are here both times; the second asks for the ones above before they show.
    state.move(-10);
    expect(state.visibleTasks(10).tasks.includes(undefined)).toBe(false);
    expect(state.wantedRows()).toBeUndefined();
    state.move(-10);
    expect(state.visibleTasks(10).tasks.includes(undefined)).toBe(false);
    expect(state.wantedRows()).toEqual({
      window: { offset: 959, limit: 41 },
      shows: { offset: 979, limit: 10 },
    });
    // The first rows stayed held, and followed the stream: Home draws them at once, t1 ready.
    state.moveTo(0);
    expect(state.visibleTasks(10).tasks.map((t) => t?.status)).toEqual([
      'ready',
      ...Array<TaskStatus>(9).fill('pending'),
    ]);
    expect(state.wantedRows()).toBeUndefined();
    // Rows in the middle: a page ahead of the stream shows at once, as it is (the key that asked for it
    // does not wait for the stream), and joins the rows held once the stream has caught up.
    state.moveTo(500);
    state.visibleTasks(10);
    expect(state.wantedRows()?.window).toEqual({ offset: 471, limit: 50 });
    // As of event 9: t492 went ready (event 8), then running (9); the stream has brought neither yet.
    const ahead = page(471, 50, 9);
    ahead.tasks[20]!.status = 'running';
    state.takeRows(ahead);
    const statuses = () =>
      state
        .visibleTasks(10)
        .tasks.map((t) => t?.status)
        .slice(0, 3);
    expect(statuses()).toEqual(['running', 'pending', 'pending']);
    expect(state.wantedRows()).toBeUndefined();
    state.push(moved(8, 't492', 'pending', 'ready'));
    state.flush();
    expect(statuses()).toEqual(['running', 'pending', 'pending']);
    expect(state.view!.taskCounts).toEqual({ pending: 997, ready: 3 });
    state.push(moved(9, 't492', 'ready', 'running'));
    state.flush();
    expect(statuses()).toEqual(['running', 'pending', 'pending']);
    // Both ends are still held, the middle too: a few screens of rows, not the run.
    state.moveTo(999);
    expect(state.visibleTasks(10).tasks.at(-1)?.status).toBe('ready');
    expect(state.wantedRows()).toBeUndefined();
    state.moveTo(491);
    expect(state.visibleTasks(10).tasks.at(0)?.status).toBe('running');
    expect(state.view!.tasks.length).toBeLessThanOrEqual(20 + 30 + 50);
    // Workers: the busy tasks come as a page of their own, and follow the stream.
    state.takeBusy({
      ...page(0, 0, 9),
      total: 1,
      tasks: [task({ id: 't500', status: 'running', worker: 3 })],
    });
    state.push({ id: 10, runId: 'r-42', at, type: 'task.assigned', taskId: 't2', worker: 1, attempt: 1 });
    state.push(moved(11, 't500', 'running', 'reviewing'));
    state.flush();
    expect(state.busyWorkers()).toEqual([
      { worker: 1, taskId: 't2', status: 'running' },
      { worker: 3, taskId: 't500', status: 'reviewing' },
    ]);
    state.push(moved(12, 't500', 'reviewing', 'done'));
    state.flush();
    expect(state.busyWorkers().map((b) => b.worker)).toEqual([1]);
    // A new plan moves rows the window does not hold: the run is fetched again.
    expect(state.needsRefetch).toBe(false);
    state.push({ id: 13, runId: 'r-42', at, type: 'run.planned', summary: 'again', tasks: [] });
    state.flush();
    expect(state.needsRefetch).toBe(true);
  });

  it('fetches a large run again when tasks are added: the rows after them move', () => {
    const state = new AttachState();
    const rows = Array.from({ length: 20 }, (_, i) => task({ id: `t${i + 1}` }));
    state.reset(view({ tasks: rows, lastEventId: 5, taskCounts: { pending: 1000 }, taskTotal: 1000 }));
    const at = '2025-01-01T00:01:00.000Z';
    state.push({ id: 6, runId: 'r-42', at, type: 'plan.tasks_removed', taskIds: ['t500'], origin: 'person' });
    state.flush();
    expect(state.needsRefetch).toBe(true);
  });

  it('fetches the run again once events come after rows a full disk held back', () => {
    const state = new AttachState();
    const ids = Array.from({ length: 1000 }, (_, i) => `t${i + 1}`);
    const rows = (offset: number) => ids.slice(offset, offset + 20).map((id) => task({ id, title: id }));
    state.reset(view({ tasks: rows(0), lastEventId: 5, taskCounts: { pending: 1000 }, taskTotal: 1000 }));
    // t981 is done in memory, its completion not on disk: shown reviewing, and its events are before 5.
    const held = rows(980);
    held[0] = { ...held[0]!, status: 'reviewing' };
    state.takeRows({
      runId: 'r-42',
      lastEventId: 5,
      offset: 980,
      total: 1000,
      tasks: held,
      unconfirmed: ['t981'],
    });
    expect(state.needsRefetch).toBe(false);
    const at = '2025-01-01T00:01:00.000Z';
    state.push({ id: 6, runId: 'r-42', at, type: 'run.resumed' });
    state.flush();
    expect(state.needsRefetch).toBe(true);
  });

  it('keeps the last lines of worker output that fit a pane', () => {
    expect(tailLines('a\nb\ncdefgh', 3, 4)).toEqual(['b', 'cdef', 'gh']);
  });
});
