import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * `/` and `f` on the task table: a search of ids and titles and a status filter, on a small run (the
 * screen filters the tasks it holds) and on one larger than a page (the daemon answers a window of the
 * matching rows); the table's label says what it shows and how many tasks match.
 */
describe('finding tasks on the attached screen', () => {
  let box: ScreenSandbox;
  const cli = (...args: string[]) => box.cli(...args);
  const row = (id: string, status = '\\S+') => new RegExp(`^│${id} +Task number \\d+ +${status}`, 'm');
  const rows = (s: string) => (s.match(/^│t\d+ +Task number/gm) ?? []).length;

  afterEach(() => box.cleanup());

  describe('a small run', () => {
    beforeEach(() => {
      box = new ScreenSandbox('filter-small');
      box.writeConfig({ models: { provider: 'simulated' }, execution: { max_workers: 3 } });
      box.write(
        'tasks.json',
        Array.from({ length: 12 }, (_, i) => ({ id: `t${i + 1}`, title: `Task number ${i + 1}` })),
      );
    });

    it('filters by status and searches, and Esc shows every task again', async () => {
      expectScreenTools();
      cli('daemon', 'start');
      const runId = box.start('tasks.json');
      const pane = box.attach(runId);
      await pane.waitFor(
        (s) => /^COMPLETED/m.test(s) && row('t12', 'done').test(s),
        'the finished run',
        30_000,
      );
      expect(pane.capture()).toContain('f filter');

      pane.keys('f');
      const failed = await pane.waitFor((s) => s.includes('Tasks: failed (0 of 12)'), 'the failed filter');
      expect(failed).toContain('No task matches the filter');
      expect(rows(failed)).toBe(0);
      for (let i = 0; i < 3; i++) pane.keys('f');
      const done = await pane.waitFor((s) => s.includes('Tasks: done (12 of 12)'), 'the done filter');
      expect(rows(done)).toBeGreaterThan(0);

      pane.keys('/');
      await pane.waitFor((s) => s.includes('Search ids and titles'), 'the search prompt');
      pane.keys('number 1', 'Enter');
      // t1, t10, t11, t12: a search of titles, case-insensitive.
      const found = await pane.waitFor(
        (s) => s.includes('Tasks: done · "number 1" (4 of 12)'),
        'the search applied',
      );
      expect(rows(found)).toBe(4);
      expect(found).toMatch(row('t10', 'done'));
      expect(found).not.toMatch(row('t2'));

      // Esc in the prompt clears the search; the status filter stays.
      pane.keys('/');
      await pane.waitFor((s) => s.includes('Search ids and titles'), 'the search prompt again');
      pane.keys('Escape');
      await pane.waitFor((s) => s.includes('Tasks: done (12 of 12)'), 'the search cleared');
      // Esc on the table: every task.
      pane.keys('Escape');
      const all = await pane.waitFor(
        (s) => s.includes('┌─ Tasks · / search · f filter ─'),
        'every task again',
      );
      expect(all).not.toContain('of 12)');
      pane.keys('q');
      await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    }, 90_000);
  });

  describe('a run larger than a page', () => {
    const TASKS = 1_500;
    beforeEach(() => {
      box = new ScreenSandbox('filter-large');
      box.writeConfig({
        models: { provider: 'simulated' },
        execution: { max_workers: 4 },
        // Live for the whole test: the matching rows move while it looks.
        simulated: { latency_ms: { min: 100, max: 200 } },
      });
      box.write(
        'tasks.json',
        Array.from({ length: TASKS }, (_, i) => ({ id: `t${i + 1}`, title: `Task number ${i + 1}` })),
      );
    });

    it('asks the daemon for the matching rows: a search, a status, and both', async () => {
      expectScreenTools();
      cli('daemon', 'start');
      const runId = box.start('tasks.json');
      const pane = box.attach(runId);
      await pane.waitFor((s) => row('t1').test(s), 'the first rows', 20_000);

      // Rows the view the screen started from does not hold (past the first 500).
      pane.keys('/');
      await pane.waitFor((s) => s.includes('Search ids and titles'), 'the search prompt');
      pane.keys('T149', 'Enter');
      const found = await pane.waitFor(
        (s) => s.includes('Tasks: "T149" (11 of 1,500)') && row('t1499').test(s),
        'the tasks whose id holds t149',
      );
      expect(found).toMatch(row('t149'));
      expect(found).not.toMatch(row('t1'));

      // The tasks running now: as many as the workers hold, each shown running or in review.
      pane.keys('Escape');
      await pane.waitFor((s) => s.includes('┌─ Tasks · / search · f filter ─'), 'every task again');
      pane.keys('f', 'f');
      const running = await pane.waitFor(
        (s) => /Tasks: running \([1-4] of 1,500\)/.test(s) && rows(s) > 0,
        'the running tasks',
      );
      const statuses = running.match(/^│t\d+ +Task number \d+ +(\S+)/gm) ?? [];
      expect(statuses.every((line) => /(running|reviewing|merging)$/.test(line))).toBe(true);

      // Done, then a search within it: End goes to the last of them.
      pane.keys('f', 'f');
      await pane.waitFor((s) => /Tasks: done \(\d+ of 1,500\)/.test(s) && rows(s) > 0, 'the done tasks');
      pane.keys('/');
      await pane.waitFor((s) => s.includes('Search ids and titles'), 'the search prompt again');
      pane.keys('Task number 1', 'Enter');
      // More of them than the table shows (t1, t10-t19, t100 and on): End moves it.
      await pane.waitFor(
        (s) => Number(/Tasks: done · "Task number 1" \((\d+) of 1,500\)/.exec(s)?.[1] ?? 0) > 40,
        'done and searched, more than a screen of them',
        60_000,
      );
      pane.keys('End');
      const last = await pane.waitFor(
        (s) => rows(s) > 0 && !row('t1', 'done').test(s),
        'the last matching rows',
      );
      const shown = last.match(/^│t(\d+) +Task number/gm) ?? [];
      expect(shown.every((line) => /^│t1/.test(line))).toBe(true);
      pane.keys('q');
      await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
      cli('cancel', runId);
    }, 120_000);
  });
});
