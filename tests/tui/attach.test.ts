import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * `orc attach` as a user meets it: a real daemon, a run on the simulated provider slow enough to watch,
 * the screen in a tmux pane, and `orc show --json` to check what the keys did.
 */
describe('orc attach under tmux', () => {
  let box: ScreenSandbox;
  const cli = (...args: string[]) => box.cli(...args);
  const show = (runId: string) => JSON.parse(cli('show', runId, '--json')) as { status: string };

  beforeEach(() => {
    box = new ScreenSandbox('attach');
    box.writeConfig({
      models: { provider: 'simulated' },
      execution: { max_workers: 2 },
      // Slow enough that the run outlasts the keys below even on a loaded machine (about 15 s).
      simulated: { latency_ms: { min: 1000, max: 1500 } },
    });
  });
  afterEach(() => box.cleanup());

  it('shows the run live, pauses and resumes with p, detaches with q while the run goes on', async () => {
    expectScreenTools();
    cli('daemon', 'start');
    const runId = box.start(
      'Write a short guide. Explain installation. Explain configuration. Explain running. Explain attaching. Explain rollback.',
    );

    let pane = box.attach(runId);
    const first = await pane.waitFor(
      (s) => s.includes(`run ${runId}`) && /ID +TITLE +STATUS/.test(s),
      'header and table',
      15_000,
    );
    expect(first).toContain('SIMULATED');
    expect(first).toContain('┌─ Tasks');
    const statuses = (s: string) => (s.match(/\b(pending|ready|running|reviewing|done)\b/g) ?? []).join(',');
    await pane.waitFor((s) => statuses(s) !== statuses(first), 'task statuses to change', 15_000);

    pane.keys('p');
    await pane.waitFor((s) => /^PAUSED/m.test(s), 'the screen to show the pause');
    expect(show(runId).status).toBe('paused');
    pane.keys('p');
    await pane.waitFor((s) => !/^PAUSED/m.test(s), 'the screen to show the resume');
    expect(show(runId).status).not.toBe('paused');

    pane.resize(90, 30);
    await pane.waitFor((s) => /^└─{88}┘$/m.test(s), 'a redraw at 90 columns');

    pane.keys('q');
    const detached = await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    expect(detached).toContain(`Detached from run ${runId}; it goes on. Reattach with: orc attach ${runId}`);
    pane.kill();

    const deadline = Date.now() + 60_000;
    while (show(runId).status !== 'completed' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    expect(show(runId).status).toBe('completed');

    pane = box.attach(runId);
    await pane.waitFor(
      (s) => /^COMPLETED/m.test(s) && s.includes('100%'),
      'the finished run on reattach',
      15_000,
    );

    // * rates the selected task: a list from 5 down to 1; Esc changes nothing, Enter on "4 good" rates it.
    pane.keys('*');
    await pane.waitFor((s) => /Rate \S+'s work/.test(s) && s.includes('1 useless'), 'the rating list');
    pane.keys('Escape');
    await pane.waitFor((s) => !s.includes('1 useless'), 'the rating list to close');
    pane.keys('*');
    await pane.waitFor((s) => s.includes('1 useless'), 'the rating list again');
    pane.keys('Down');
    pane.keys('Enter');
    // Told once, by the event of the rating: `t3 rated 4/5`.
    const rated = await pane.waitFor((s) => /\S+ rated 4\/5/.test(s), 'the rating to be acknowledged');
    const taskId = /(\S+) rated 4\/5/.exec(rated)![1]!;
    const ratings = (JSON.parse(cli('show', runId, '--json')) as { ratings?: unknown[] }).ratings;
    expect(ratings).toEqual([expect.objectContaining({ taskId, score: 4 })]);
  }, 120_000);

  it('says so when the daemon is killed under it, and follows the restarted daemon', async () => {
    expectScreenTools();
    cli('daemon', 'start');
    const runId = box.start(
      'Write a short guide. Explain installation. Explain configuration. Explain running.',
    );
    const pane = box.attach(runId);
    await pane.waitFor((s) => /ID +TITLE +STATUS/.test(s), 'header and table', 15_000);

    const daemon = JSON.parse(readFileSync(path.join(box.home, 'daemon.json'), 'utf8')) as { pid: number };
    process.kill(daemon.pid, 'SIGKILL');
    const lost = await pane.waitFor((s) => s.includes('Cannot reach the daemon'), 'the screen to say so');
    // The screen stays up and keeps the run's last known state; the terminal is not torn down.
    expect(lost).toContain(`run ${runId}`);
    expect(lost).not.toContain('[exit');

    cli('daemon', 'start');
    await pane.waitFor(
      (s) => !s.includes('Cannot reach the daemon') && /^COMPLETED/m.test(s) && s.includes('100%'),
      'the screen to follow the restored run to its end',
      60_000,
    );
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 120_000);
});
