import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * `orc attach` on a run larger than a page of tasks (runs.get carries the first 500): the screen holds a
 * few screens of rows (around the cursor, the first and the last ones) and fetches the others as the
 * cursor nears them, so End shows the last task and Enter opens it.
 */
const TASKS = 1_500;

describe('orc attach on a run of more than a page of tasks', () => {
  let box: ScreenSandbox;
  const cli = (...args: string[]) => box.cli(...args);

  beforeEach(() => {
    box = new ScreenSandbox('large');
    box.writeConfig({
      models: { provider: 'simulated' },
      execution: { max_workers: 4 },
      // Live for the whole test: 1,500 tasks at 4 at a time take minutes.
      simulated: { latency_ms: { min: 100, max: 200 } },
    });
    box.write(
      'tasks.json',
      Array.from({ length: TASKS }, (_, i) => ({ id: `t${i + 1}`, title: `Task number ${i + 1}` })),
    );
  });
  afterEach(() => box.cleanup());

  it('shows the rows the cursor reaches, fetched as it moves, with the whole run counted', async () => {
    expectScreenTools();
    cli('daemon', 'start');
    const runId = box.start('tasks.json');
    const pane = box.attach(runId);
    const row = (id: string) => new RegExp(`^│${id} +Task number`, 'm');
    const first = await pane.waitFor((s) => row('t1').test(s), 'the first rows', 20_000);
    expect(first).toContain(`/${TASKS}`);
    // The last task is not in the view the screen started from: End fetches it.
    pane.keys('End');
    await pane.waitFor((s) => row(`t${TASKS}`).test(s) && !row('t1').test(s), 'the last rows');
    pane.keys('Enter');
    await pane.waitFor((s) => s.includes(`Task t${TASKS}`), 'the detail of the last task');
    pane.keys('q');
    await pane.waitFor((s) => !s.includes(`Task t${TASKS}`), 'the detail to close');
    // Up a screen and more: rows in the middle, then back to the top.
    for (let i = 0; i < 3; i++) pane.keys('PageUp');
    await pane.waitFor(
      (s) => /^│t14[0-9]{2} +Task number/m.test(s) && !row(`t${TASKS}`).test(s),
      'rows a few screens up',
    );
    // The first rows were held all along, and followed the run: t1 shows done, as the daemon has it.
    pane.keys('Home');
    await pane.waitFor((s) => /^│t1 +Task number 1 +done/m.test(s), 'the first rows again, t1 done');
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    cli('cancel', runId);
  }, 120_000);
});
