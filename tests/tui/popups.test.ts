import { afterEach, beforeEach, expect, it } from 'vitest';
import { expectScreenTools, ORC, ScreenSandbox } from './screen-sandbox.js';

/**
 * The screen's lists over a finished run, in a terminal 160 columns wide: the rating list takes the number
 * keys it shows, rollback's choices read whole, and a rollback that had nothing to redo says so.
 */
let box: ScreenSandbox;
const cli = (...args: string[]) => box.cli(...args);

beforeEach(() => {
  box = new ScreenSandbox('popups');
  box.writeConfig({
    models: { provider: 'simulated' },
    execution: { max_workers: 2 },
    simulated: { latency_ms: { min: 10, max: 20 } },
  });
  box.write('tasks.json', [
    { id: 'a', title: 'First task' },
    { id: 'b', title: 'Second task' },
  ]);
});
afterEach(() => box.cleanup());

it('rates with a number key, shows rollback choices whole, and says a rollback reset nothing', async () => {
  expectScreenTools();
  cli('daemon', 'start');
  const runId = box.start('tasks.json');
  const status = () => (JSON.parse(cli('show', runId, '--json')) as { status: string }).status;
  const deadline = Date.now() + 30_000;
  while (status() !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(status()).toBe('completed');

  const pane = box.terminal(`node ${ORC} attach ${runId}`, { width: 160, height: 40 });
  await pane.waitFor((s) => /^COMPLETED/m.test(s), 'the finished run', 15_000);

  pane.keys('*');
  await pane.waitFor(
    (s) => s.includes("─ Rate a's work: 5–1 or ↑↓ Enter (Esc cancels) ─┐"),
    'the rating list, saying its keys (the whole label)',
  );
  pane.keys('2');
  await pane.waitFor((s) => /\ba rated 2\/5/.test(s) && !s.includes('1 useless'), 'the rating by its key');
  const ratings = (JSON.parse(cli('show', runId, '--json')) as { ratings?: unknown[] }).ratings;
  expect(ratings).toEqual([expect.objectContaining({ taskId: 'a', score: 2 })]);

  pane.keys('b');
  await pane.waitFor((s) => s.includes('Roll back to which checkpoint?'), 'the checkpoints');
  pane.keys('Enter');
  const how = await pane.waitFor((s) => /Roll back to \S+: how\?/.test(s), 'how to roll back');
  // Each choice whole on its line, up to its last word.
  expect(how).toMatch(
    /full: every task as it was at the checkpoint; a repository run resets its branch to the checkpoint too +│/,
  );
  expect(how).toMatch(
    /partial: as at the checkpoint, but tasks finished since whose inputs did not change keep their results; files stay +│/,
  );
  // A terminal made narrower fits the list again, each choice cut with "…".
  pane.resize(80, 30);
  const narrow = await pane.waitFor(
    (s) => /│ │ partial: as at the checkpoint, but tasks finished since whose inputs di… │ │/.test(s),
    'the list fitted to 80 columns',
  );
  expect(narrow).toMatch(/│ │ full: every task as it was at the checkpoint; a repository run resets i… │ │/);
  pane.resize(160, 40);
  await pane.waitFor(
    (s) => s.includes('whose inputs did not change keep their results; files stay'),
    'wide again',
  );
  pane.keys('Down');
  pane.keys('Enter');
  // The daemon journals nothing for it: the screen says what the rollback answered.
  const said = await pane.waitFor((s) => s.includes('nothing to redo'), 'the rollback that reset nothing');
  expect(said).toMatch(
    /rollback to \S+ \(partial\) reset no task, nothing to redo: 2 done tasks kept; run \S+ stays completed/,
  );
  pane.keys('q');
  await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
}, 90_000);
