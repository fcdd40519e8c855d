import type { RunView } from '@orc/shared';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * Editing a running plan from the screen: X cancels the selected task (its attempt stops, it is held),
 * and a task another client adds with `orc task add` shows up on the attached screen as it happens.
 */
let box: ScreenSandbox;
const cli = (...args: string[]) => box.cli(...args);
const show = (runId: string) => JSON.parse(cli('show', runId, '--json')) as RunView;

beforeEach(() => {
  box = new ScreenSandbox('edit');
  box.writeConfig({
    models: { provider: 'simulated' },
    execution: { max_workers: 1 },
    // The first task is still running when X is pressed, even on a loaded machine.
    simulated: { latency_ms: { min: 8000, max: 9000 } },
  });
  box.write('tasks.json', [
    { id: 'first', title: 'First task' },
    { id: 'second', title: 'Second task', dependencies: ['first'] },
  ]);
});
afterEach(() => box.cleanup());

it('X cancels the selected task on the attached screen; a task added elsewhere appears live', async () => {
  expectScreenTools();
  cli('daemon', 'start');
  const runId = box.start('tasks.json');
  const pane = box.attach(runId);
  await pane.waitFor(
    (s) => /│first +First task +(running|reviewing)/.test(s),
    'the first task running',
    15_000,
  );
  expect(pane.capture()).toContain('X cancel task');

  // Another client adds a task: the attached screen shows it without being asked.
  cli('task', 'add', runId, '--title', 'Added from elsewhere', '--id', 'extra', '--deps', 'second');
  await pane.waitFor((s) => /│extra +Added from elsewhere +pending/.test(s), 'the added task on screen');

  // The selected row is the first task: X cancels it there and then.
  pane.keys('X');
  const cancelled = await pane.waitFor(
    (s) => /│first +First task +cancelled/.test(s) && s.includes('cancel first requested'),
    'the task to show cancelled',
  );
  expect(cancelled).toMatch(/first cancelled/);
  const view = show(runId);
  expect(view.tasks.find((t) => t.id === 'first')).toMatchObject({
    status: 'cancelled',
    attempts: [expect.objectContaining({ outcome: 'cancelled' }) as object],
  });
});
