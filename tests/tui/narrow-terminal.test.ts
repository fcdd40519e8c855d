import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ORC as orc, ScreenSandbox } from './screen-sandbox.js';
import { terminalCells } from './terminal-cells.js';

/**
 * The screen where many users meet it: an 80×24 terminal, titles with emoji and CJK, and `orc run` in a
 * terminal from start to end. A real daemon, the built CLI, tmux as the terminal.
 */
const TITLES = [
  '📝 intro',
  '文档を書く',
  '🎉混合 mix',
  'flag 🇫🇷 fr',
  'plain title',
  '한국어 제목',
  '❤️ heart 👍🏽',
];

describe('the screen at 80×24', () => {
  let box: ScreenSandbox;
  const cli = (...args: string[]) => box.cli(...args);
  const terminal = (command: string) => box.terminal(command, { width: 80, height: 24 });
  const config = (latency: { min: number; max: number }) =>
    box.writeConfig({
      models: { provider: 'simulated' },
      execution: { max_workers: 2 },
      simulated: { latency_ms: latency },
    });

  beforeEach(() => {
    box = new ScreenSandbox('narrow', { shared: true });
    box.write(
      'tasks.json',
      TITLES.map((title, i) => ({ id: `t${i + 1}`, title, dependencies: i >= 2 ? ['t1'] : [] })),
    );
  });
  afterEach(() => box.cleanup());

  it('fits header and key line, keeps the columns straight under wide titles, and ? shows the other keys', async () => {
    expectScreenTools();
    // Slow enough that the table is up while tasks wait and run.
    config({ min: 4000, max: 6000 });
    const runId = cli('run', 'tasks.json', '--detach').trim();
    const pane = terminal(`node ${orc} attach ${runId}`);
    const screen = await pane.waitFor(
      (s) => TITLES.every((_, i) => new RegExp(`│t${i + 1} `).test(s)) && s.includes('running'),
      'every task in the table, one running',
      20_000,
    );
    const lines = screen.split('\n');
    // The header: the stats line is whole (not cut), the progress line too. Once a task is done it has a
    // forecast, which takes the provider's room at 80 columns: on a loaded machine the screen may come
    // up after that (t1 is done 8 to 12 s in).
    expect(lines[1]).toMatch(
      /^EXECUTING {2}time \S+ {2}workers \d\/2 {2}tokens \S+ {2}cost \$\S+ {2}(simulated|→\$\S+( \d\d:\d\d)?( {2}simulated)?)$/,
    );
    expect(lines[2]).toMatch(/\d+% {2}\d\/7 done/);
    // The key line: shortened, with ? and q whole.
    const keys = lines.find((line) => line.startsWith(' ↑↓ move'))!;
    expect(keys).toMatch(/ {2}\? more keys {2}q detach$/);
    expect(terminalCells(keys)).toBeLessThanOrEqual(80);
    // Every row of the table puts STATUS and the right border at the same cell as the header row.
    const at = (line: string, text: string) => terminalCells(line.slice(0, line.indexOf(text)));
    const header = lines.find((line) => /^│ID +TITLE +STATUS/.test(line))!;
    const rows = lines.filter((line) => /^│t\d /.test(line));
    expect(rows).toHaveLength(TITLES.length);
    for (const row of rows) {
      const status = /\b(pending|ready|running|reviewing|done)\b/.exec(row)!;
      expect(terminalCells(row.slice(0, status.index)), row).toBe(at(header, 'STATUS'));
      expect(at(row.slice(1), '│') + 1, row).toBe(at(header.slice(1), '│') + 1);
    }
    for (const line of lines) expect(terminalCells(line), line).toBeLessThanOrEqual(80);

    pane.keys('?');
    const help = await pane.waitFor((s) => s.includes('Help'), 'the help overlay');
    expect(help).toContain('Tab');
    expect(help).toContain('roll back');
    // Esc and q sent together read as one key (Meta-q) when the screen is slow to take them: q waits for
    // the overlay to close, as a person's would.
    pane.keys('Escape');
    await pane.waitFor((s) => !s.includes('Help ('), 'the help overlay to close');
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 60_000);

  it('orc run in a terminal closes the screen at the end and leaves the summary in the scrollback', async () => {
    expectScreenTools();
    config({ min: 100, max: 300 });
    const pane = terminal(`node ${orc} run tasks.json`);
    const end = await pane.waitFor((s) => s.includes('[exit'), 'orc run to exit', 30_000);
    expect(end).toContain('[exit 0]');
    // The summary wraps at 80 columns; joined back as tmux wrapped it (joined with '' a wrap falling on a
    // space read "498out"), it carries the tokens and the time.
    const text = pane.captureJoined().split('\n');
    const summary = text.findIndex((line) =>
      /^Run r\w+ completed \[SIMULATED\]: 7\/7 done · cost \$/.test(line),
    );
    expect(summary, end).toBeGreaterThanOrEqual(0);
    const joined = text.slice(summary).join('\n');
    expect(joined).toMatch(/tokens \S+ in \/ \S+ out · time \S+/);
    expect(joined).toMatch(/Final review \(success\): /);
    expect(joined).toMatch(/See it again with: orc attach r\w+/);
    // The screen itself is gone: no box lines left.
    expect(end).not.toContain('┌─ Tasks');
  }, 60_000);
});
