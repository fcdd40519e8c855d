import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeAnthropicServer } from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

/** `orc ls`, `rm`, `prune`, `show` and run id prefixes, as a user types them (built CLI, real daemon). */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const ZERO_LATENCY = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 0 } } };
const SLOW = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 5000, max: 6000 } } };

async function finishedRun(goal: string): Promise<string> {
  const run = await box.orc(['run', goal, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { id: string }).id;
}

/** The shortest prefix of `id` that no other id starts with. */
function uniquePrefix(id: string, others: string[]): string {
  for (let n = 2; n <= id.length; n++) {
    const prefix = id.slice(0, n);
    if (!others.some((other) => other !== id && other.startsWith(prefix))) return prefix;
  }
  return id;
}

describe('managing runs from the command line', () => {
  it('ls aligns its columns and filters by status; ids take a prefix and last; rm and prune spare live runs', async () => {
    box = await Sandbox.create();
    await box.writeConfig(ZERO_LATENCY);
    const first = await finishedRun('write a haiku. then a limerick');
    const second = await finishedRun('one short poem');
    await box.writeConfig(SLOW);
    const live = (await box.orc(['run', 'a slow goal', '--detach'])).stdout.trim();
    const ids = [first, second, live];

    const ls = await box.orc(['ls']);
    expect(ls.code, ls.stderr).toBe(0);
    const [header, ...rows] = ls.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID +STATUS +AGE +TIME +COST +FORECAST +DONE +GOAL$/);
    expect(rows.map((row) => row.split(' ')[0])).toEqual(ids);
    // Left-aligned columns start where their title starts; right-aligned ones end where it ends.
    for (const row of rows) {
      expect(row.indexOf(row.split(/ +/)[1]!), row).toBe(header!.indexOf('STATUS'));
      expect(/\$\d+\.\d+/.exec(row)!.index + /\$\d+\.\d+/.exec(row)![0].length, row).toBe(
        header!.indexOf('COST') + 4,
      );
      expect(/\d+\/\d+/.exec(row)!.index + /\d+\/\d+/.exec(row)![0].length, row).toBe(
        header!.indexOf('DONE') + 4,
      );
      expect(row.indexOf('[SIMULATED]'), row).toBeGreaterThan(header!.indexOf('GOAL'));
    }
    expect(rows[0]).toMatch(/ 4\/4 /);

    const completed = await box.orc(['ls', '--status', 'completed', '--json']);
    expect((JSON.parse(completed.stdout) as { id: string }[]).map((r) => r.id)).toEqual([first, second]);
    const liveOnly = await box.orc(['ls', '--status', 'live', '--json']);
    expect((JSON.parse(liveOnly.stdout) as { id: string }[]).map((r) => r.id)).toEqual([live]);
    const badStatus = await box.orc(['ls', '--status', 'done']);
    expect(badStatus).toMatchObject({ code: 2, stdout: '' });
    expect(badStatus.stderr).toMatch(/^orc: --status takes analyzing, .*, live, finished \(got "done"\)\n$/);

    // A unique prefix and `last` name a run; an ambiguous prefix lists what it matches.
    const byPrefix = await box.orc(['show', uniquePrefix(first, ids), '--json']);
    expect(JSON.parse(byPrefix.stdout)).toMatchObject({ id: first });
    expect(JSON.parse((await box.orc(['show', 'last', '--json'])).stdout)).toMatchObject({ id: live });
    const ambiguous = await box.orc(['show', 'r']);
    expect(ambiguous).toMatchObject({ code: 2, stdout: '' });
    expect(ambiguous.stderr).toBe(`orc: run id "r" is ambiguous: ${ids.join(', ')}; give more of it\n`);
    const empty = await box.orc(['logs', '']);
    expect(empty).toMatchObject({
      code: 2,
      stderr: 'orc: the run id is empty; give a run id, a unique prefix of one, or last\n',
    });
    const none = await box.orc(['show', 'zz']);
    expect(none).toMatchObject({ code: 3, stderr: 'orc: no run "zz"; orc ls lists the runs\n' });

    // rm refuses a live run, names orc cancel, and removes nothing of what it was given.
    const refused = await box.orc(['rm', first, live]);
    expect(refused).toMatchObject({ code: 4, stdout: '' });
    expect(refused.stderr).toMatch(
      new RegExp(
        `^orc: run ${live} is (analyzing|executing); cancel it first \\(orc cancel ${live}\\), then remove it\n$`,
      ),
    );
    expect((await box.orc(['ls', '--json'])).stdout).toContain(first);

    const removed = await box.orc(['rm', uniquePrefix(first, ids)]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^removed ${first} \\(completed, 4 tasks, ended `));
    const afterRm = JSON.parse((await box.orc(['ls', '--json'])).stdout) as { id: string }[];
    expect(afterRm.map((r) => r.id)).toEqual([second, live]);

    // prune: a malformed age is refused with the accepted forms; a real one removes finished runs only.
    const malformed = await box.orc(['prune', '--older-than', '7 days']);
    expect(malformed).toMatchObject({ code: 2, stdout: '' });
    expect(malformed.stderr).toBe(
      'orc: --older-than must be a number and a unit (s, m, h, d or w), like 30m, 12h, 7d or 2w (got "7 days")\n',
    );
    expect((await box.orc(['prune', '--older-than', '7d'])).stdout).toBe(
      'no finished run ended more than 7d ago\n',
    );
    await new Promise((r) => setTimeout(r, 1100));
    const dry = await box.orc(['prune', '--older-than', '1s', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toEqual({ wouldRemove: [second] });
    const pruned = await box.orc(['prune', '--older-than', '1s', '--json']);
    expect(JSON.parse(pruned.stdout)).toEqual({ removed: [second] });
    const left = JSON.parse((await box.orc(['ls', '--json'])).stdout) as { id: string }[];
    expect(left.map((r) => r.id)).toEqual([live]);
    expect((await box.orc(['cancel', 'last'])).code).toBe(0);
  }, 60_000);

  it('show prints each attempt with its verdict and error; show <run> <task> prints the task whole', async () => {
    // The manager sends b back once and fails c; one call of the run is answered 529 (retried).
    const reviews = new Map<string, number>();
    const server = await startFakeAnthropicServer({
      respond: (body) => {
        const properties = body.output_config?.format?.schema?.properties ?? {};
        const prompt = JSON.stringify(body.messages);
        if ('verdict' in properties && 'feedback' in properties) {
          const task = /result for task (\w+):/.exec(prompt)?.[1] ?? '?';
          const n = (reviews.get(task) ?? 0) + 1;
          reviews.set(task, n);
          if (task === 'b' && n === 1)
            return JSON.stringify({ verdict: 'rework', feedback: 'Add the examples.' });
          if (task === 'c') return JSON.stringify({ verdict: 'fail', feedback: 'This is off topic.' });
          return JSON.stringify({ verdict: 'accept', feedback: 'Good.' });
        }
        if ('followUps' in properties)
          return JSON.stringify({ verdict: 'partial', summary: 'Mostly.', followUps: [] });
        return `The full result of the work.\nSecond line of the result.`;
      },
    });
    try {
      box = await Sandbox.create({ ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef' });
      await box.writeConfig({
        models: { provider: 'anthropic', base_url: server.url },
        execution: { max_workers: 1 },
      });
      await writeFile(
        join(box.home, 'tasks.json'),
        JSON.stringify([
          { id: 'a', title: 'first' },
          { id: 'b', title: 'second' },
          { id: 'c', title: 'third' },
        ]),
      );
      server.failNext({ status: 529 });
      const run = await box.orc(['run', 'tasks.json', '--json']);
      expect(run.code).toBe(1);
      const runId = (JSON.parse(run.stdout) as { id: string }).id;

      const show = await box.orc(['show', runId]);
      expect(show.code, show.stderr).toBe(0);
      const lines = show.stdout.split('\n');
      const block = (id: string) => {
        const start = lines.findIndex((line) => line.startsWith(`  ${id} `));
        const end = lines.findIndex((line, i) => i > start && /^ {2}\S/.test(line));
        return lines.slice(start, end === -1 ? undefined : end).join('\n');
      };
      expect(block('a')).toMatch(/#1 · w0 · failed · .*transient error: .*529/);
      expect(block('a')).toMatch(/#2 · w0 · succeeded · .* · review accept/);
      expect(block('b')).toMatch(/#1 · .* · review rework \(.* in \/ .* out, \$\S+\): Add the examples\./);
      expect(block('b')).toMatch(/#2 · .* · review accept/);
      expect(block('c')).toMatch(/#1 · .* · review fail \(.* in \/ .* out, \$\S+\): This is off topic\./);
      expect(block('c')).toMatch(/error: rejected by the manager: This is off topic\./);
      expect(show.stdout).toMatch(/^review: partial: Mostly\.$/m);

      const task = await box.orc(['show', runId, 'b']);
      expect(task.code, task.stderr).toBe(0);
      expect(task.stdout).toMatch(/^task b of run \w+: second$/m);
      expect(task.stdout).toMatch(/^attempt #1 · w0 · succeeded/m);
      expect(task.stdout).toContain('  review: rework:\n    Add the examples.');
      expect(task.stdout).toContain('result:\n  The full result of the work.\n  Second line of the result.');
      expect(task.stdout).not.toContain('diff (');
      const json = JSON.parse((await box.orc(['show', runId, 'b', '--json'])).stdout) as {
        attempts: unknown[];
      };
      expect(json.attempts).toHaveLength(2);
      const missing = await box.orc(['show', runId, 'zz']);
      expect(missing.code).toBe(3);
    } finally {
      await server.close();
    }
  }, 60_000);
});
