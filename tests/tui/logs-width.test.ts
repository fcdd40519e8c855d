import { execFileSync } from 'node:child_process';
import type { OrcEvent } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ORC as orc, ScreenSandbox } from './screen-sandbox.js';
import { terminalCells } from './terminal-cells.js';

/**
 * `orc logs` into a pipe prints every event's text whole; in a terminal it fits the width and says how to
 * see the lines whole. A real daemon, the built CLI, a shell pipe and tmux as the terminal.
 */
describe('orc logs and the width of its lines', () => {
  let box: ScreenSandbox;
  let runId: string;

  beforeEach(() => {
    box = new ScreenSandbox('logs-width', { shared: true });
    box.writeConfig({ models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 0 } } });
    box.write('tasks.json', [
      { id: 'a', title: 'write the long answer', description: 'a paragraph of prose about the tides' },
    ]);
    runId = (JSON.parse(box.cli('run', 'tasks.json', '--json')) as { id: string }).id;
  });
  afterEach(() => box.cleanup());

  it('into a pipe: whole lines, the text of every worker.output and task.worked in full', () => {
    const events = JSON.parse(box.cli('logs', runId, '--json')) as OrcEvent[];
    const piped = execFileSync('sh', ['-c', `node ${orc} logs ${runId} | cat`], {
      cwd: box.work,
      env: { ...process.env, ORC_HOME: box.home },
      encoding: 'utf8',
    });
    const lines = piped.trimEnd().split('\n');
    expect(lines).toHaveLength(events.length);
    const texts = events.flatMap((event) =>
      event.type === 'worker.output' ? [event.text] : event.type === 'task.worked' ? [event.output] : [],
    );
    const long = texts.filter((text) => text.length > 100);
    expect(long.length, 'the simulated answers run past 100 characters').toBeGreaterThan(0);
    for (const text of texts) {
      const flat = text.replace(/\s*\n\s*/g, ' ').trim();
      expect(piped, flat.slice(0, 40)).toContain(flat);
    }
    expect(piped).not.toContain('…');
    expect(piped).not.toContain('lines cut to fit');
  });

  it('in a terminal: every line fits its width, and a note says how to see them whole', async () => {
    expectScreenTools();
    const pane = box.terminal(`node ${orc} logs ${runId}`, { width: 70, height: 200 });
    const screen = await pane.waitFor((s) => s.includes('[exit 0]'), 'orc logs to end');
    const events = JSON.parse(box.cli('logs', runId, '--json')) as OrcEvent[];
    const lines = screen.split('\n').filter((line) => line.trim() !== '');
    // One line an event, the note and the exit: none wrapped onto a second line of the terminal.
    expect(lines).toHaveLength(events.length + 2);
    for (const line of lines) expect(terminalCells(line), line).toBeLessThanOrEqual(70);
    expect(lines.some((line) => line.startsWith('#') && line.endsWith('…'))).toBe(true);
    expect(lines.at(-2)).toBe(`(lines cut to fit; orc logs ${runId} | less shows them whole)`);
  });

  it('following in a terminal: the note comes once, at the end, not in the middle of the stream', async () => {
    expectScreenTools();
    const pane = box.terminal(`node ${orc} logs ${runId} --follow`, { width: 70, height: 200 });
    const screen = await pane.waitFor((s) => s.includes('[exit 0]'), 'orc logs --follow to end');
    const lines = screen.split('\n').filter((line) => line.trim() !== '');
    const note = `(lines cut to fit; orc logs ${runId} | less shows them whole)`;
    expect(lines.filter((line) => line === note)).toHaveLength(1);
    expect(lines.at(-2)).toBe(note);
  });
});
