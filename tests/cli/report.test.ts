import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Attempt, RunReport, RunsReport } from '@orc/shared';
import {
  countPixels,
  decodePng,
  distinctColours,
  renderPage,
  startFakeAnthropicServer,
  type FakeAnthropicServer,
  type PngImage,
} from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

/** The timeline's colours (packages/tui/src/report/gantt-chart.ts): accepted, sent back. */
const ACCEPTED = '#2e9e5b';
const REWORK = '#e0a526';

let box: Sandbox;
let server: FakeAnthropicServer | undefined;
afterEach(async () => {
  await box.cleanup();
  await server?.close();
  server = undefined;
});

/**
 * The manager sends "b" back the first time it sees it (in the first run only) with a reason that names
 * a case number, fails "c" and accepts the rest;
 * each call takes a little while so the timeline has widths to draw.
 */
async function sandboxWithManager(): Promise<void> {
  const reviews = new Map<string, number>();
  server = await startFakeAnthropicServer({
    latencyMs: 40,
    respond: (body) => {
      const properties = body.output_config?.format?.schema?.properties ?? {};
      const prompt = JSON.stringify(body.messages);
      if ('verdict' in properties && 'feedback' in properties) {
        const task = /result for task (\w+):/.exec(prompt)?.[1] ?? '?';
        const n = (reviews.get(task) ?? 0) + 1;
        reviews.set(task, n);
        if (task === 'b' && n === 1)
          return JSON.stringify({ verdict: 'rework', feedback: 'Add the examples for case 3.' });
        if (task === 'c') return JSON.stringify({ verdict: 'fail', feedback: 'This is off topic.' });
        return JSON.stringify({ verdict: 'accept', feedback: 'Good.' });
      }
      if ('followUps' in properties)
        return JSON.stringify({ verdict: 'partial', summary: 'Mostly.', followUps: [] });
      return 'The full result of the work.';
    },
  });
  box = await Sandbox.create({ ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef' });
  await box.writeConfig({
    models: { provider: 'anthropic', base_url: server.url },
    execution: { max_workers: 2 },
  });
  await writeFile(
    join(box.home, 'tasks.json'),
    JSON.stringify([
      { id: 'a', title: 'Write the outline' },
      { id: 'b', title: 'Write the body', dependencies: ['a'] },
      { id: 'c', title: 'Add a joke', dependencies: ['a'] },
      { id: 'd', title: 'Write the ending', dependencies: ['b'] },
    ]),
  );
}

async function finishedRun(): Promise<string> {
  const run = await box.orc(['run', 'tasks.json', '--json'], { timeoutMs: 60_000 });
  expect(run.code, run.stderr).toBe(1); // c failed
  return (JSON.parse(run.stdout) as { id: string }).id;
}

/** A page is drawn when its screenshot is not one flat colour and the timeline's bars are on it. */
function assertDrawn(image: PngImage): void {
  expect(distinctColours(image)).toBeGreaterThan(50);
  expect(countPixels(image, ACCEPTED)).toBeGreaterThan(200);
  expect(countPixels(image, REWORK)).toBeGreaterThan(50);
}

describe('orc feedback and orc report (built CLI, real daemon, headless Chromium)', () => {
  it('rates a run and a task, refusing bad ratings, unknown runs and tasks in one line', async () => {
    await sandboxWithManager();
    const runId = await finishedRun();
    const rated = await box.orc(['feedback', runId, 'b', '--rating', '2', '--comment', 'took two tries']);
    expect(rated.code, rated.stderr).toBe(0);
    expect(rated.stdout.trim()).toBe(`rated task b of run ${runId} 2/5`);
    const whole = await box.orc(['feedback', runId, '--rating', '4', '--json']);
    expect(JSON.parse(whole.stdout)).toMatchObject({ runId, score: 4 });

    for (const [args, code, message] of [
      [['feedback', runId, '--rating', '6'], 2, 'orc: --rating must be a whole number from 1 to 5 (got "6")'],
      [
        ['feedback', runId, '--rating', '2.5'],
        2,
        'orc: --rating must be a whole number from 1 to 5 (got "2.5")',
      ],
      [
        ['feedback', runId, 'zz', '--rating', '3'],
        3,
        `orc: run ${runId} has no task "zz"; orc show ${runId} lists them`,
      ],
      [['feedback', 'nope', '--rating', '3'], 3, 'orc: no run "nope"; orc ls lists the runs'],
    ] as const) {
      const refused = await box.orc([...args]);
      expect(refused.code, args.join(' ')).toBe(code);
      expect(refused.stderr).toBe(`${message}\n`);
    }

    // The ratings are in the journal and the run; refused ones changed nothing.
    const logs = await box.orc(['logs', runId]);
    expect(logs.stdout.match(/feedback\.rated/g)).toHaveLength(2);
    const show = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { ratings: unknown[] };
    expect(show.ratings).toEqual([
      expect.objectContaining({ taskId: 'b', score: 2, comment: 'took two tries' }),
      expect.objectContaining({ score: 4 }),
    ]);
  }, 90_000);

  it('reports a run as text, JSON and a page Chromium draws with its timeline and critical path', async () => {
    await sandboxWithManager();
    const runId = await finishedRun();
    await box.orc(['feedback', runId, 'b', '--rating', '2', '--comment', 'took two tries']);

    const json = await box.orc(['report', runId, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as RunReport;
    expect(report).toMatchObject({ runId, status: 'failed', taskTotal: 4 });
    expect(report.reviews).toEqual({ accept: 3, rework: 1, fail: 1 });
    expect(report.reworkRate).toBe(0.25);
    expect(report.failureRate).toBe(0.25); // c of a, b, c, d
    expect(report.reworkReasons).toEqual([
      { reason: 'Add the examples for case 3.', count: 1, tasks: ['b'] },
    ]);
    expect(report.failureReasons[0]).toMatchObject({ count: 1, tasks: ['c'] });
    expect(report.failureReasons[0]!.reason).toContain('This is off topic.');
    expect(report.time.criticalPath).toEqual(['a', 'b', 'd']);
    expect(report.time.criticalPathMs).toBeGreaterThan(0);
    expect(report.time.criticalPathMs).toBeLessThanOrEqual(report.time.makespanMs);
    expect(report.time.utilisation).toBeGreaterThan(0);
    expect(report.timeline.filter((a) => a.taskId === 'b').map((a) => a.verdict)).toEqual([
      'rework',
      'accept',
    ]);
    // Every call is paid for by a role: the workers' attempts plus the manager's plan and reviews.
    const { total, manager, workers } = report.spend;
    expect(total.costUsd).toBeGreaterThan(0);
    expect(workers.costUsd).toBeGreaterThan(0);
    expect(manager.costUsd).toBeGreaterThan(0);
    expect(manager.costUsd + workers.costUsd).toBeCloseTo(total.costUsd, 6);
    // Split as orc metrics splits it (the reviews are the manager's), on the anthropic provider, whose
    // task.completed tells an attempt's cost with its review's.
    const metrics = JSON.parse((await box.orc(['metrics', '--json'])).stdout) as {
      name: string;
      values: { value: number; labels: { role?: string } }[];
    }[];
    const byRole = (role: string) =>
      metrics
        .find((m) => m.name === 'orc_cost_usd_total')!
        .values.filter((v) => v.labels.role === role)
        .reduce((sum, v) => sum + v.value, 0);
    expect(workers.costUsd).toBeCloseTo(byRole('worker'), 9);
    expect(manager.costUsd).toBeCloseTo(byRole('manager'), 9);
    const taskSum = report.tasks.reduce((sum, t) => sum + t.spend.costUsd, 0);
    expect(taskSum).toBeCloseTo(workers.costUsd, 9);
    // orc show's attempt line: the worker's call, then its review's cost.
    const shown = await box.orc(['show', runId, 'a', '--json']);
    const attempt = (JSON.parse(shown.stdout) as { attempts: Attempt[] }).attempts[0]!;
    expect(attempt.reviewSpend!.costUsd).toBeGreaterThan(0);
    const line = (await box.orc(['show', runId, 'a'])).stdout
      .split('\n')
      .find((l) => l.startsWith('attempt #1'));
    const worker = attempt.costUsd - attempt.reviewSpend!.costUsd;
    // Each figure as shown: cut to two significant digits below a cent, so within 10% under the true one.
    const [, workerShown, reviewShown] = /· \$([\d.]+) · review \(.*, \$([\d.]+)\)$/.exec(line!) ?? [];
    for (const [shownText, actual] of [
      [workerShown, worker],
      [reviewShown, attempt.reviewSpend!.costUsd],
    ] as const) {
      expect(Number(shownText)).toBeLessThanOrEqual(actual);
      expect(Number(shownText)).toBeGreaterThan(actual * 0.9);
    }
    expect(report.tasks.map((t) => [t.id, t.attempts, t.onCriticalPath])).toEqual([
      ['a', 1, true],
      ['b', 2, true],
      ['c', 1, false],
      ['d', 1, true],
    ]);
    expect(report.feedback.map((f) => f.kind)).toContain('rating');
    expect(report.ratings).toEqual({ count: 1, average: 2 });

    const text = await box.orc(['report', runId]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^reviews: 3 accepted, 1 sent back, 1 failed by the manager; rework rate 25%$/m,
    );
    expect(text.stdout).toMatch(/^failures: 1 task failed \(failure rate 25%\)$/m);
    expect(text.stdout).toMatch(/^ {2}\s*1× Add the examples for case 3\.$/m);
    expect(text.stdout).toMatch(/^\* b\s+done\s+2 /m);
    expect(text.stdout).toMatch(/^ {2}c\s+failed/m);
    expect(text.stdout).toMatch(/rated 2\/5 b: took two tries/);

    const page = join(box.home, 'report.html');
    await writeFile(page, 'an older page');
    const html = await box.orc(['report', runId, '--html', page]);
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout.split('\n')[0]).toBe(`wrote ${page}`);
    const written = await readFile(page, 'utf8');
    expect(written).toMatch(/^<!doctype html>/);
    // Self-contained: nothing is fetched.
    expect(written).not.toMatch(/<script|<link|src=|url\(/);

    const { png, dom } = await renderPage(page);
    assertDrawn(decodePng(png));
    // The browser built the timeline: an attempt per bar, the critical path's outlined.
    expect(dom.match(/<g class="attempt/g)).toHaveLength(5);
    expect(dom.match(/<g class="attempt critical"/g)).toHaveLength(4);
    expect(dom).toContain('critical path: a → b → d');
  }, 120_000);

  it('the screenshot check fails on a blank page and on a page whose pictures did not draw', async () => {
    await sandboxWithManager();
    const blank = join(box.home, 'blank.html');
    await writeFile(blank, '<!doctype html><html><body></body></html>');
    const { png } = await renderPage(blank);
    expect(distinctColours(decodePng(png))).toBe(1);
    expect(() => assertDrawn(decodePng(png))).toThrow();
    // Text but broken SVG: the page shows words and no bars.
    const broken = join(box.home, 'broken.html');
    await writeFile(
      broken,
      '<!doctype html><p>Timeline</p><svg width="300" height="100"><rect width="x"/></svg>',
    );
    const drawn = decodePng((await renderPage(broken)).png);
    expect(distinctColours(drawn)).toBeGreaterThan(1);
    expect(() => assertDrawn(drawn)).toThrow();
  }, 60_000);

  it('sums up the runs of a window; bad windows and arguments are one-line usage errors', async () => {
    await sandboxWithManager();
    const first = await finishedRun();
    const second = await finishedRun();
    const since = await box.orc(['report', '--since', '7d', '--json']);
    expect(since.code, since.stderr).toBe(0);
    const report = JSON.parse(since.stdout) as RunsReport;
    expect(report.runs.map((r) => r.id).sort()).toEqual([first, second].sort());
    expect(report.byStatus).toEqual({ failed: 2 });
    expect(report.spend.costUsd).toBeCloseTo(
      report.runs.reduce((sum, r) => sum + r.costUsd, 0),
      6,
    );
    expect(report.reworkByModel).toEqual([
      { key: expect.stringMatching(/^anthropic\//) as string, reviewed: 8, reworked: 1, rate: 0.125 },
    ]);
    expect(report.reworkByKind).toEqual([
      { key: 'write', reviewed: 6, reworked: 1, rate: 1 / 6 },
      { key: 'add', reviewed: 2, reworked: 0, rate: 0 },
    ]);
    expect(report.reworkReasons).toEqual([
      { reason: 'Add the examples for case 3.', count: 1, tasks: [`${first}/b`] },
    ]);
    expect(report.failureReasons[0]).toMatchObject({ count: 2 });

    const text = await box.orc(['report', '--since', '7d']);
    expect(text.stdout).toMatch(/^since .*: 2 runs \(2 failed\), spend \$[\d.]+ \([^)]*\)$/m);
    expect(report.simulatedCostUsd).toBe(0);
    expect(text.stdout).not.toMatch(/simulated/i);
    expect(text.stdout).toMatch(/^ {2}write\s+17% of 6 reviewed$/m);

    // The runs were made more than a second ago by now.
    await new Promise((r) => setTimeout(r, 1100));
    const later = JSON.parse((await box.orc(['report', '--since', '1s', '--json'])).stdout) as RunsReport;
    expect(later.runs).toEqual([]);

    for (const [args, message] of [
      [
        ['report', '--since', '7x'],
        'orc: --since must be a number and a unit (s, m, h, d or w), like 30m, 12h, 7d or 2w (got "7x")',
      ],
      [['report'], 'orc: give a run (orc report <run>) or a window (orc report --since 7d)'],
      [['report', first, '--since', '7d'], 'orc: give either a run or --since, not both'],
    ] as const) {
      const refused = await box.orc([...args]);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toBe(`${message}\n`);
    }
    const unknown = await box.orc(['report', 'nope']);
    expect(unknown.code).toBe(3);
    const unwritable = await box.orc([
      'report',
      first,
      '--html',
      join(box.home, 'no', 'such', 'dir', 'r.html'),
    ]);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(
      /^orc: cannot write the report to .*r\.html \(ENOENT\); give --html a file in a writable folder\n$/,
    );
  }, 120_000);

  it('labels simulated runs and what they cost as not spent, and names kinds of task by their verbs', async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
    });
    const run = await box.orc(['run', 'write the user guide and an FAQ', '--json'], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const id = (JSON.parse(run.stdout) as { id: string }).id;

    const window = JSON.parse((await box.orc(['report', '--since', '7d', '--json'])).stdout) as RunsReport;
    // The plan's "Write an FAQ" is a kind "write", not "an" (the title was "An FAQ").
    expect(window.reworkByKind.map((k) => [k.key, k.reviewed])).toEqual([
      ['write', 2],
      ['analyse', 1],
      ['integrate', 1],
    ]);
    expect(window.simulatedCostUsd).toBeGreaterThan(0);
    expect(window.simulatedCostUsd).toBeCloseTo(window.spend.costUsd, 9);
    const text = (await box.orc(['report', '--since', '7d'])).stdout;
    expect(text).toMatch(
      /^since .*: 1 run \(1 completed\), spend \$[\d.]+ \([^)]*\), all simulated tokens at real prices: nothing was spent$/m,
    );
    expect(text).toMatch(
      new RegExp(`^  ${id}  completed .* write the user guide and an FAQ \\[SIMULATED\\]$`, 'm'),
    );

    const one = (await box.orc(['report', id])).stdout;
    expect(one).toMatch(/^run \S+ completed \[SIMULATED\]: /);
    expect(one).toMatch(
      /^spend: .*\n(?: {2}claude-.*\n)+ {2}simulated tokens at real prices: nothing was spent\n/m,
    );
  }, 120_000);
});
