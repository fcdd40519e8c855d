import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunView } from '@orc/shared';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TmuxPane } from './tmux.js';

/**
 * Editing a running plan from the screen: X cancels the selected task (its attempt stops, it is held),
 * and a task another client adds with `orc task add` shows up on the attached screen as it happens.
 */
const root = path.resolve(import.meta.dirname, '../..');
const orc = path.join(root, 'packages/tui/dist/cli/main.js');

let home: string;
let work: string;
let pane: TmuxPane | undefined;
const cli = (...args: string[]) =>
  execFileSync('node', [orc, ...args], {
    cwd: work,
    env: { ...process.env, ORC_HOME: home },
    encoding: 'utf8',
  });
const show = (runId: string) => JSON.parse(cli('show', runId, '--json')) as RunView;

beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orc-edit-home-'));
  work = mkdtempSync(path.join(os.tmpdir(), 'orc-edit-work-'));
  writeFileSync(
    path.join(work, 'orc.config.json'),
    JSON.stringify({
      models: { provider: 'simulated' },
      execution: { max_workers: 1 },
      // The first task is still running when X is pressed, even on a loaded machine.
      simulated: { latency_ms: { min: 8000, max: 9000 } },
    }),
  );
  writeFileSync(
    path.join(work, 'tasks.json'),
    JSON.stringify([
      { id: 'first', title: 'First task' },
      { id: 'second', title: 'Second task', dependencies: ['first'] },
    ]),
  );
});
afterEach(() => {
  pane?.kill();
  try {
    cli('daemon', 'stop');
  } catch {
    // not running
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

it('X cancels the selected task on the attached screen; a task added elsewhere appears live', async () => {
  expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
  expect(existsSync(orc), `${orc} is missing; run npm run build first`).toBe(true);
  cli('daemon', 'start');
  const runId = (JSON.parse(cli('run', 'tasks.json', '--detach', '--json')) as { id: string }).id;
  pane = new TmuxPane(`node ${orc} attach ${runId}`, {
    cwd: work,
    env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: home },
  });
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
