import { startFakeAnthropicServer, type FakeAnthropicServer } from '@orc/test-support';
import type { RunView } from '@orc/shared';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * Editing a running plan from the screen: X cancels the selected task once the person confirms (its
 * attempt stops, it is held), s skips it the same way, and a task another client adds with `orc task add`
 * shows up on the attached screen as it happens.
 */
const KEY = 'sk-ant-test-task-cancel-0000000000';
const HELD_TITLE = 'First task';

let box: ScreenSandbox;
let server: FakeAnthropicServer;
const cli = (...args: string[]) => box.cli(...args);
const show = (runId: string) => JSON.parse(cli('show', runId, '--json')) as RunView;

beforeEach(async () => {
  // The stand-in holds the first task's worker call until X cancels it, so that task is in flight however
  // long the screen takes on a loaded machine (simulated latency of 8-9 s was outlasted); others are quick.
  server = await startFakeAnthropicServer({
    apiKey: KEY,
    latencyMs: (body) =>
      String(body.model).includes('sonnet') && JSON.stringify(body.messages).includes(HELD_TITLE)
        ? 600_000
        : 100,
  });
  box = new ScreenSandbox('edit', { env: { ANTHROPIC_API_KEY: KEY } });
  box.writeConfig({
    models: { provider: 'anthropic', base_url: server.url },
    execution: { max_workers: 1 },
  });
  box.write('tasks.json', [
    { id: 'first', title: HELD_TITLE },
    { id: 'second', title: 'Second task', dependencies: ['first'] },
  ]);
});
afterEach(async () => {
  box.cleanup();
  await server.close();
});

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

  // The selected row is the first task: X asks first, as x does for the run; n keeps it running.
  pane.keys('X');
  await pane.waitFor((s) => s.includes('Cancel task first?'), 'the question');
  pane.keys('n');
  await pane.waitFor((s) => !s.includes('Cancel task first?'), 'the question gone');
  await new Promise((r) => setTimeout(r, 1_000));
  expect(show(runId).tasks.find((t) => t.id === 'first')?.status).toMatch(/running|reviewing/);
  // X and y in one chunk: the y answers the question it opened.
  pane.keys('X', 'y');
  const cancelled = await pane.waitFor(
    (s) => /│first +First task +cancelled/.test(s) && /first cancelled/.test(s),
    'the task to show cancelled',
  );
  // One line for what happened: the event tells it, no note of the request beside it.
  expect(cancelled).not.toContain('requested');
  const view = show(runId);
  expect(view.tasks.find((t) => t.id === 'first')).toMatchObject({
    status: 'cancelled',
    attempts: [expect.objectContaining({ outcome: 'cancelled' }) as object],
  });

  // s asks too: Esc and Enter keep the task (a stray Enter must not skip it), y skips it, and what
  // depended on it goes on.
  for (const keep of ['Escape', 'Enter']) {
    pane.keys('s');
    await pane.waitFor((s) => s.includes('Skip task first?'), `the skip question (${keep})`);
    pane.keys(keep);
    await pane.waitFor((s) => !s.includes('Skip task first?'), `the skip question gone (${keep})`);
    expect(show(runId).tasks.find((t) => t.id === 'first')?.status).toBe('cancelled');
  }
  pane.keys('s');
  await pane.waitFor((s) => s.includes('Skip task first?'), 'the skip question again');
  pane.keys('y');
  await pane.waitFor((s) => /│first +First task +skipped/.test(s), 'the task skipped');
  await pane.waitFor(
    (s) => /│second +Second task +(running|reviewing|done)/.test(s),
    'its dependant going on',
  );
});
