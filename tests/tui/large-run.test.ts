import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TmuxPane } from './tmux.js';

/**
 * `orc attach` on a run larger than a page of tasks (runs.get carries the first 500): the screen holds a
 * window of rows and fetches the ones it shows, so End shows the last task and Enter opens it.
 */
const root = path.resolve(import.meta.dirname, '../..');
const orc = path.join(root, 'packages/tui/dist/cli/main.js');
const TASKS = 1_500;

describe('orc attach on a run of more than a page of tasks', () => {
  let home: string;
  let work: string;
  let pane: TmuxPane | undefined;
  const env = () => ({ ...process.env, ORC_HOME: home, NO_COLOR: '1' });
  const cli = (...args: string[]) =>
    execFileSync('node', [orc, ...args], { cwd: work, env: env(), encoding: 'utf8' });

  beforeEach(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'orc-large-home-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'orc-large-work-'));
    writeFileSync(
      path.join(work, 'orc.config.json'),
      JSON.stringify({
        models: { provider: 'simulated' },
        execution: { max_workers: 4 },
        // Live for the whole test: 1,500 tasks at 4 at a time take minutes.
        simulated: { latency_ms: { min: 100, max: 200 } },
      }),
    );
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      id: `t${i + 1}`,
      title: `Task number ${i + 1}`,
    }));
    writeFileSync(path.join(work, 'tasks.json'), JSON.stringify(tasks));
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

  it('shows the rows the cursor reaches, fetched as it moves, with the whole run counted', async () => {
    expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
    expect(existsSync(orc), `${orc} is missing; run npm run build first`).toBe(true);
    cli('daemon', 'start');
    const runId = (JSON.parse(cli('run', 'tasks.json', '--detach', '--json')) as { id: string }).id;
    pane = new TmuxPane(`node ${orc} attach ${runId}`, {
      cwd: work,
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: home },
    });
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
    pane.keys('Home');
    await pane.waitFor((s) => row('t1').test(s), 'the first rows again');
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    cli('cancel', runId);
  }, 120_000);
});
