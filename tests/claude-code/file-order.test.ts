import type { OrcEvent, RunSummary, RunView } from '@orc/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../daemon/harness.js';
import { TmuxPane } from '../tui/tmux.js';
import { ClaudeSandbox, filesAt, taskStates, type TaskInput } from './claude-sandbox.js';

let sb: ClaudeSandbox;

beforeAll(async () => {
  sb = await ClaudeSandbox.create();
});

afterAll(async () => {
  await sb.cleanup();
});

/** Four tasks append to one file, two write files of their own: the shape that conflicts when parallel. */
function appenders(touches: boolean): TaskInput[] {
  const shared = ['a', 'b', 'c', 'd'].map((id) => ({
    id,
    lines: [`APPEND src/shared.txt: line from ${id}\\n`],
    ...(touches && { touches: ['src/shared.txt'] }),
  }));
  const own = ['e', 'f'].map((id) => ({
    id,
    lines: [`WRITE src/${id}.txt: made by ${id}\\n`],
    ...(touches && { touches: [`src/${id}.txt`] }),
  }));
  return [...shared, ...own];
}

/** When each task was in flight: from its first assignment to its completion, as journal positions. */
function spans(events: readonly OrcEvent[]): Map<string, { from: number; to: number }> {
  const out = new Map<string, { from: number; to: number }>();
  for (const event of events) {
    if (event.type === 'task.assigned' && !out.has(event.taskId))
      out.set(event.taskId, { from: event.id, to: Infinity });
    if (event.type === 'task.completed') out.get(event.taskId)!.to = event.id;
  }
  return out;
}

function conflicts(events: readonly OrcEvent[]): number {
  return events.filter(
    (e) => e.type === 'task.status' && e.status === 'ready' && e.reason?.startsWith('merge conflict'),
  ).length;
}

const reworks = (run: RunView) => run.tasks.reduce((n, t) => n + t.reworks, 0);

describe('tasks that touch the same files (built CLI, real daemon, the real Claude Code, real git)', () => {
  it('runs overlapping tasks one after another, says which waits for whom, and lands them without a conflict', async () => {
    const repo = await sb.repo({ 'README.md': '# project\n', 'src/shared.txt': 'start\n' });
    const tasks = appenders(true);
    // a holds its answer until the test has seen the others wait for it.
    tasks[0]!.lines.unshift('HANG first');
    const cwd = await sb.runFolder(tasks, { workers: 4, maxReworks: 2 });
    const runId = await sb.detach(cwd, repo);

    const waiting = await sb.waitForRun(
      runId,
      (run) =>
        run.tasks.find((t) => t.id === 'a')?.status === 'running' &&
        ['e', 'f'].every((id) => run.tasks.find((t) => t.id === id)?.status === 'done'),
      60_000,
    );
    // b, c and d wait for a, with workers idle: e and f went meanwhile.
    expect(taskStates(waiting)).toMatchObject({ a: 'running', b: 'ready', c: 'ready', d: 'ready' });
    const shown = await sb.orc(['show', runId]);
    expect(shown.code).toBe(0);
    for (const id of ['b', 'c', 'd'])
      expect(shown.stdout).toMatch(
        new RegExp(`^  ${id} +ready +task ${id}\\n +waits for src/shared\\.txt held by a$`, 'm'),
      );
    // The terminal UI marks them in the task table, live.
    expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
    const pane = new TmuxPane(`node ${CLI} attach ${runId}`, {
      cwd: sb.home,
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: sb.home },
    });
    try {
      const screen = await pane.waitFor(
        (s) => s.includes('waits for src/shared.txt'),
        'the wait in the table',
        20_000,
      );
      for (const id of ['b', 'c', 'd'])
        expect(screen).toMatch(new RegExp(`│${id} +waits for src/shared\\.txt held by a ·… +ready +-`));
      pane.keys('q');
      await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    } finally {
      pane.kill();
    }
    sb.standIn.open('first');

    const done = await sb.waitForRun(runId, (run) => run.status === 'completed', 90_000);
    const events = await sb.events(runId);
    const inFlight = spans(events);
    const shared = ['a', 'b', 'c', 'd'].map((id) => inFlight.get(id)!).sort((x, y) => x.from - y.from);
    for (let i = 1; i < shared.length; i++) expect(shared[i]!.from).toBeGreaterThan(shared[i - 1]!.to);
    expect(conflicts(events)).toBe(0);
    expect(reworks(done)).toBe(0);
    const files = await filesAt(repo, `orc/${runId}`);
    expect(files['src/shared.txt']!.split('\n').sort()).toEqual(
      ['', 'line from a', 'line from b', 'line from c', 'line from d', 'start'].sort(),
    );
    // What each accepted diff changed is learned, journalled and shown.
    expect(done.tasks.find((t) => t.id === 'a')?.touched).toEqual(['src/shared.txt']);
    expect(events.filter((e) => e.type === 'task.touched')).toHaveLength(6);
    const task = await sb.orc(['show', runId, 'b']);
    expect(task.stdout).toMatch(/^touches: src\/shared\.txt\nchanged: src\/shared\.txt$/m);
  }, 180_000);

  it('measures merge conflicts and reworks with and without touches on the same tasks', async () => {
    const figures: Record<string, { conflicts: number; reworks: number; done: number; seconds: number }> = {};
    for (const touches of [false, true]) {
      const repo = await sb.repo({ 'README.md': '# project\n', 'src/shared.txt': 'start\n' });
      const cwd = await sb.runFolder(appenders(touches), { workers: 4, maxReworks: 4 });
      const started = Date.now();
      const result = await sb.run(cwd, repo);
      const summary = JSON.parse(result.stdout) as RunSummary;
      const run = await sb.view(summary.id);
      const events = await sb.events(summary.id);
      figures[touches ? 'with touches' : 'without'] = {
        conflicts: conflicts(events),
        reworks: reworks(run),
        done: run.tasks.filter((t) => t.status === 'done').length,
        seconds: (Date.now() - started) / 1000,
      };
    }
    process.stderr.write(`file-order figures: ${JSON.stringify(figures)}\n`);
    expect(figures['with touches']).toMatchObject({ conflicts: 0, reworks: 0, done: 6 });
    // Four workers on four appenders at once: all but the first to merge conflict at least once.
    expect(figures['without']!.conflicts).toBeGreaterThanOrEqual(1);
    expect(figures['without']!.reworks).toBeGreaterThanOrEqual(figures['without']!.conflicts);
  }, 240_000);
});
