import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ROOT as root } from './screen-sandbox.js';
import { TmuxPane } from './tmux.js';

/**
 * The attach screen in a real terminal, on the demo (a daemon in its process, the simulated model, the
 * screen its client): what a user sees, the keys, a resize, and a clean exit. attach.test.ts does the
 * same against the daemon the CLI starts.
 */
const demo = path.join(root, 'packages/tui/dist/screen/demo.js');

describe('attach screen under tmux (the demo)', () => {
  let dir: string;
  let pane: TmuxPane | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'orc-screen-'));
  });
  afterEach(() => {
    pane?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws header, table, panes with real box lines; p pauses and resumes; resize redraws; q restores', async () => {
    expectScreenTools(demo);
    const stderr = path.join(dir, 'stderr.txt');
    pane = new TmuxPane(`node ${demo} 30 3 100 2>${stderr}`, {
      cwd: root,
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: dir },
    });

    const first = await pane.waitFor(
      (s) => s.includes('SIMULATED') && s.includes('running'),
      'the header and a running task',
    );
    expect(first).toMatch(/^run r[0-9a-f]+ · Complete the 30 tasks from the task list/m);
    expect(first).toMatch(/ID +TITLE +STATUS +WORKER +ATT +TIME/);
    expect(first).toContain('┌─ Tasks');
    expect(first).not.toMatch(/lqq|qqk/);
    expect(first).toMatch(/─ w\d · t\d+ running/);
    const done = (s: string) => Number(/(\d+)\/30 done/.exec(s)?.[1] ?? -1);
    await pane.waitFor((s) => done(s) > done(first), 'the done count to grow');

    pane.keys('p');
    await pane.waitFor(
      (s) => /^PAUSED \(USER\)/m.test(s) && s.includes('Press p to resume'),
      'the run to pause',
    );
    pane.keys('p');
    await pane.waitFor((s) => /^EXECUTING/m.test(s), 'the run to resume');

    pane.keys('Enter');
    await pane.waitFor(
      (s) => s.includes('Task t1 (Esc closes') && s.includes('Description'),
      'the task detail',
    );
    pane.keys('Escape');
    await pane.waitFor((s) => !s.includes('Esc closes'), 'the detail to close');

    pane.resize(90, 30);
    const narrow = await pane.waitFor(
      (s) => /^└─+┘$/m.test(s) && s.split('\n')[0]!.trimEnd().endsWith('SIMULATED'),
      'a redraw at 90 columns',
    );
    expect(Math.max(...narrow.split('\n').map((l) => l.length))).toBeLessThanOrEqual(90);
    expect(narrow).toMatch(/^└─{88}┘$/m);

    pane.keys('q');
    const after = await pane.waitFor((s) => s.includes('[exit 0]'), 'the demo to exit');
    expect(after).toMatch(/Detached from run r[0-9a-f]+; it goes on\. Reattach with:/);
    expect(after).not.toContain('┌─ Tasks');
    expect(readFileSync(stderr, 'utf8')).toBe('');
  });
});
