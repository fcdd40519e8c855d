import { afterEach, beforeEach, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * The event pane of `orc attach`: a paused run shows what it did last (no new event comes to show), and
 * an action of the screen is one line, the event's.
 */
let box: ScreenSandbox;
const cli = (...args: string[]) => box.cli(...args);

beforeEach(() => {
  box = new ScreenSandbox('events');
  box.writeConfig({
    models: { provider: 'simulated' },
    execution: { max_workers: 1 },
    // Long enough to be paused mid-way on a loaded machine (20 tasks one at a time: 10 s and more).
    simulated: { latency_ms: { min: 500, max: 700 } },
  });
  box.write(
    'tasks.json',
    Array.from({ length: 20 }, (_, i) => ({ id: `t${i + 1}`, title: `Task number ${i + 1}` })),
  );
});
afterEach(() => box.cleanup());

it('attached to a paused run, the pane shows its last events; a checkpoint is told once', async () => {
  expectScreenTools();
  cli('daemon', 'start');
  const runId = box.start('tasks.json');
  const deadline = Date.now() + 30_000;
  const done = () =>
    (JSON.parse(cli('show', runId, '--json')) as { taskCounts: { done?: number } }).taskCounts.done ?? 0;
  while (done() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  cli('pause', runId);

  const pane = box.attach(runId);
  const shown = await pane.waitFor(
    (s) => /^PAUSED/m.test(s) && /paused \(user\)/.test(s),
    'the paused run with its last events',
    15_000,
  );
  // What the run did before the pause is there too: a task it finished.
  expect(shown).toMatch(/t\d done/);

  pane.keys('c');
  const saved = await pane.waitFor(
    (s) => /checkpoint \S+ saved \(\d+ tasks? done\)/.test(s),
    'the checkpoint line',
  );
  await new Promise((r) => setTimeout(r, 500));
  const after = pane.capture();
  expect(after.match(/checkpoint \S+ saved/g)).toHaveLength(1);
  expect(saved).not.toMatch(/\(1 tasks done\)/);
  pane.keys('q');
  await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
}, 90_000);
