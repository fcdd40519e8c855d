import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_SIM, Sandbox } from '../daemon/harness.js';

/**
 * How `orc run` ends, as a script sees it (built CLI, real daemon, simulated models). A new user's trial
 * found a run paused at its budget exited 0 with nothing on stderr, piped and with --json alike, so
 * `orc run … && next` went on with the work undone; and the final line of a simulated run gave its cost
 * without saying nothing was spent.
 */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const TASKS = [
  { id: 'a', title: 'Write alpha' },
  { id: 'b', title: 'Write bravo', dependencies: ['a'] },
  { id: 'c', title: 'Write charlie', dependencies: ['b'] },
];
const NOT_SPENT = '(simulated tokens at real prices: nothing was spent)';

describe('orc run exits by how the run ended', () => {
  it('exits 6 on a paused run, piped and with --json, saying on stderr why and how to go on', async () => {
    box = await Sandbox.create();
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify(TASKS));
    // Far below what one task's attempt and review come to: the run pauses before its first task.
    await box.writeConfig({ ...FAST_SIM, execution: { max_cost_usd: 0.000001 } });

    const piped = await box.orc(['run', 'tasks.json']);
    expect(piped.code, piped.stderr).toBe(6);
    const runId = /^run (r\w+) started/.exec(piped.stdout)![1]!;
    expect(piped.stdout).toMatch(new RegExp(`^run ${runId} paused \\[SIMULATED\\]: .*, \\$[\\d.]+ \\(`, 'm'));
    const stderr = piped.stderr.trim().split('\n');
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(
      new RegExp(
        `^orc: run ${runId} is paused \\(budget\\), not completed; it needs you: run ${runId} is paused at its budget: .*orc resume ${runId} --budget <usd>.* \\(orc answer \\S+ `,
      ),
    );

    const json = await box.orc(['run', 'tasks.json', '--json']);
    expect(json.code, json.stderr).toBe(6);
    const summary = JSON.parse(json.stdout) as { id: string; status: string; pauseReason: string };
    expect(summary).toMatchObject({ status: 'paused', pauseReason: 'budget' });
    expect(json.stderr.trim().split('\n')).toHaveLength(1);
    expect(json.stderr).toMatch(
      new RegExp(`^orc: run ${summary.id} is paused \\(budget\\), not completed; it needs you: `),
    );
  }, 60_000);

  it('exits 0 on a completed run, and says a simulated run spent nothing, as orc show does', async () => {
    box = await Sandbox.create();
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify(TASKS));
    await box.writeConfig(FAST_SIM);
    const run = await box.orc(['run', 'tasks.json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const runId = /^run (r\w+) started/.exec(run.stdout)![1]!;
    expect(run.stdout).toMatch(
      new RegExp(
        `^run ${runId} completed \\[SIMULATED\\]: 3/3 done, \\$[\\d.]+ \\(simulated tokens at real prices: nothing was spent\\)$`,
        'm',
      ),
    );
    const shown = await box.orc(['show', runId]);
    expect(shown.stdout).toMatch(
      new RegExp(`^tasks: 3/3 done; cost \\$[\\d.]+ ${NOT_SPENT.replace(/[()]/g, '\\$&')}; tokens `, 'm'),
    );
  }, 60_000);
});
