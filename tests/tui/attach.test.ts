import { existsSync, readFileSync } from 'node:fs';
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

  it('says so when the daemon is killed under it, starts it again once, and follows the restored run', async () => {
    expectScreenTools();
    cli('daemon', 'start');
    const runId = box.start(
      'Write a short guide. Explain installation. Explain configuration. Explain running.',
    );
    const pane = box.attach(runId);
    await pane.waitFor((s) => /ID +TITLE +STATUS/.test(s), 'header and table', 15_000);

    const daemonInfo = () =>
      JSON.parse(readFileSync(path.join(box.home, 'daemon.json'), 'utf8')) as { pid: number };
    const killed = daemonInfo().pid;
    process.kill(killed, 'SIGKILL');
    // No other orc command runs: the screen starts the daemon itself, as a command would, and says so.
    const restarted = await pane.waitFor(
      (s) => s.includes(`the daemon (pid ${killed}) had died; started a new one`),
      'the screen to start the daemon again and say so',
      30_000,
    );
    // The screen stays up and keeps the run; the terminal is not torn down.
    expect(restarted).toContain(`run ${runId}`);
    expect(restarted).not.toContain('[exit');
    const started = Number(/started a new one \(pid (\d+)\)/.exec(restarted)![1]);
    // What the restart did while the screen was away is on its pane: the restore, naming the tasks it cut off.
    await pane.waitFor(
      (s) => s.includes('restored after a daemon restart'),
      'the restore on the event pane',
      15_000,
    );
    expect(daemonInfo().pid).toBe(started);
    expect(() => process.kill(started, 0)).not.toThrow();

    const done = await pane.waitFor(
      (s) => !s.includes('Cannot reach the daemon') && /^COMPLETED/m.test(s) && s.includes('100%'),
      'the screen to follow the restored run to its end',
      60_000,
    );
    // Started once: the daemon the screen started is the one that finished the run.
    expect(done).toContain(`run ${runId}`);
    expect(daemonInfo().pid).toBe(started);
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 120_000);
  it('leaves a daemon stopped with orc daemon stop stopped, says so, and follows on once it is started again', async () => {
    expectScreenTools();
    cli('daemon', 'start');
    const runId = box.start('Write a short guide. Explain installation. Explain configuration.');
    const pane = box.attach(runId);
    await pane.waitFor((s) => /ID +TITLE +STATUS/.test(s), 'header and table', 15_000);

    const daemonJson = path.join(box.home, 'daemon.json');
    cli('daemon', 'stop');
    // Said for someone looking at this screen: what brings the daemon back, and that the screen follows.
    const stopped = await pane.waitFor(
      (s) =>
        oneLine(s).includes(
          "The daemon was stopped (orc daemon stop): orc daemon start in another terminal brings it back and this screen follows; the run's time stands still until it is back.",
        ),
      'the screen to say the daemon was stopped',
      15_000,
    );
    const heldAt = runTime(stopped);
    // The screen started one within about 4 s of the stop before: give it twice that, and none comes.
    await new Promise((r) => setTimeout(r, 8_000));
    expect(existsSync(daemonJson)).toBe(false);
    const waiting = pane.capture();
    expect(waiting).not.toContain('started it');
    expect(waiting).not.toContain('[exit');
    // The run's clock stood still with the daemon (it counted on, then stepped back at the start).
    expect(runTime(waiting)).toBe(heldAt);

    // A person starts it again: the screen follows on, with no other word about a start.
    cli('daemon', 'start');
    const back = await pane.waitFor(
      (s) => !s.includes('The daemon was stopped') && s.includes(`run ${runId}`),
      'the screen to follow on',
      30_000,
    );
    // Going on from where it stood, not from 8 s later: the daemon counts from its stop, which the screen
    // heard of a moment after (a second's rounding apart at most).
    expect(runTime(back)).toBeGreaterThanOrEqual(heldAt - 1);
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 120_000);
});

/** The screen's lines joined, as a notice wrapped over several lines reads. */
function oneLine(screen: string): string {
  return screen
    .split('\n')
    .map((line) => line.trim())
    .join(' ');
}

/** The run's working time in the header's `time` (`12s`, `1m05s`, `0.4s`), in seconds. */
function runTime(screen: string): number {
  const time = /^\S+ {2}time (\S+)/m.exec(screen)?.[1];
  const parts = time === undefined ? null : /^(?:(\d+)m)?(?:<?([\d.]+)s)$/.exec(time);
  if (!parts) throw new Error(`no time in the header:\n${screen}`);
  return Number(parts[1] ?? 0) * 60 + Number(parts[2]);
}
