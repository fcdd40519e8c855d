import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox, waitFor } from '../daemon/harness.js';

/** `execution.max_task_cost_usd` as a user meets it: a task failed on its cap, then `orc retry` (built CLI, real daemon). */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

interface ShownTask {
  status: string;
}

const eventTypes = async (runId: string) =>
  (await readFile(join(box.home, 'runs', runId, 'events.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { type: string }).type);

describe('orc retry of a task its cap failed', () => {
  it('says in one line that it would fail at once and how to raise the cap; --task-budget raises it', async () => {
    box = await Sandbox.create();
    // A simulated attempt costs about $0.0007, its review as much: every task fails on a $0.001 cap.
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
      execution: { max_task_cost_usd: 0.001, max_workers: 1 },
    });
    const run = await box.orc(['run', 'Three tasks', '--json']);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    expect(run.code, run.stderr).toBe(1);
    const finalReviews = (await eventTypes(runId)).filter((type) => type === 'run.failed').length;

    const refused = await box.orc(['retry', runId, 't1']);
    expect(refused).toMatchObject({ code: 4, stdout: '' });
    expect(refused.stderr).toMatch(
      new RegExp(
        `^orc: task t1 has cost \\$0\\.\\d{4} of a \\$0\\.001 cap \\(execution\\.max_task_cost_usd\\), so a retry would fail at once: orc retry ${runId} t1 --task-budget 0\\.\\d{4} \\(or more\\) raises the run's cap\\n$`,
      ),
    );
    // Nothing changed: the run did not reopen, nor go through its final review again.
    expect((JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { status: string }).status).toBe(
      'failed',
    );
    expect((await eventTypes(runId)).filter((type) => type === 'run.failed')).toHaveLength(finalReviews);

    const tooLittle = await box.orc(['retry', runId, 't1', '--task-budget', '0.0011']);
    expect(tooLittle.code).toBe(4);
    expect(tooLittle.stderr).toMatch(/^orc: task t1 has cost .* a \$0\.0011 cap .*--task-budget/);
    const bad = await box.orc(['retry', runId, 't1', '--task-budget', 'lots']);
    expect(bad).toMatchObject({
      code: 2,
      stderr: 'orc: --task-budget must be a positive amount of US dollars (got "lots")\n',
    });

    const retried = await box.orc(['retry', runId, 't1', '--task-budget', '0.05']);
    expect(retried.code, retried.stderr).toBe(0);
    await waitFor(async () => {
      const task = JSON.parse((await box.orc(['show', runId, 't1', '--json'])).stdout) as ShownTask;
      return task.status === 'done' ? task : undefined;
    });
    expect(await eventTypes(runId)).toContain('run.task_budget_set');
  });

  it("names raising the cap first, in the run's error and the inbox, and the inbox's raise runs the task", async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
      execution: { max_task_cost_usd: 0.001, max_workers: 1 },
    });
    const run = await box.orc(['run', 'Three tasks', '--json']);
    expect(run.code, run.stderr).toBe(1);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    // The advice is the figure `orc retry` itself would give, and nothing about fixing another cause.
    const refused = await box.orc(['retry', runId, 't1']);
    const advised = /--task-budget (\d+\.\d{4}) \(or more\)/.exec(refused.stderr)?.[1];
    expect(advised, refused.stderr).toBeDefined();
    const shown = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { error: string };
    expect(shown.error).toMatch(
      new RegExp(
        `^task t1 is at the cost cap of a task \\(execution\\.max_task_cost_usd \\$0\\.001\\): orc retry ${runId} t1 --task-budget ${advised} \\(or more\\) raises it; 1 task failed`,
      ),
    );
    expect(shown.error).not.toContain('fix the cause');

    const inbox = await box.orc(['inbox']);
    expect(inbox.stdout).toMatch(/orc answer (i\d+) raise\|skip\n/);
    const itemId = /orc answer (i\d+) raise/.exec(inbox.stdout)![1]!;
    const items = JSON.parse((await box.orc(['inbox', '--json'])).stdout) as {
      items: { choices: { id: string; label: string }[] }[];
    };
    expect(items.items[0]!.choices[0]!.label).toBe(
      `raise the cost cap of a task to $${advised} and run it again (orc retry ${runId} t1 --task-budget <usd> for another cap)`,
    );
    // A budget goes only with the raise.
    const wrong = await box.orc(['answer', itemId, 'skip', '--budget', '1']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^orc: a budget goes with a budget item or a raise of a task's cap/);

    // A figure too low is refused in the answer's own words (it named orc retry's --task-budget).
    const low = await box.orc(['answer', itemId, 'raise', '--budget', '0.0001']);
    expect(low.code).toBe(4);
    expect(low.stderr).toMatch(
      new RegExp(
        `^orc: a cap of \\$0\\.0001 is too low for task t1: its retry would fail at once; orc answer ${itemId} raise --budget \\d+\\.\\d{4} \\(or more\\), or raise alone for \\$${advised}\\n$`,
      ),
    );

    // As a key press in the terminal UI answers it: no figure, the one shown.
    const answered = await box.orc(['answer', itemId, 'raise']);
    expect(answered.code, answered.stderr).toBe(0);
    const done = await waitFor(async () => {
      const view = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { status: string };
      return view.status === 'completed' ? view : undefined;
    });
    expect(done.status).toBe('completed');
  });

  it('advises a cap a retry can pass when the task failed before any call came back', async () => {
    box = await Sandbox.create();
    // A cap below any call: the first attempt is refused before it is made, so nothing was ever paid.
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
      execution: { max_task_cost_usd: 0.000001, max_workers: 1 },
    });
    const tasks = join(box.home, 'one-task.json');
    await writeFile(tasks, JSON.stringify([{ id: 'a', title: 'Write a haiku about tea' }]));
    const run = await box.orc(['run', tasks, '--json']);
    expect(run.code, run.stderr).toBe(1);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    const refused = await box.orc(['retry', runId, 'a']);
    expect(refused.code).toBe(4);
    const advised = /--task-budget (\d+\.\d+) \(or more\)/.exec(refused.stderr)?.[1];
    expect(advised, refused.stderr).toBeDefined();
    // Following the advice, the task gets done: a figure that fails again at once is no advice.
    const retried = await box.orc(['retry', runId, 'a', '--task-budget', advised!]);
    expect(retried.code, retried.stderr).toBe(0);
    const settled = await waitFor(async () => {
      const task = JSON.parse((await box.orc(['show', runId, 'a', '--json'])).stdout) as ShownTask & {
        error?: string;
      };
      return task.status === 'done' || task.status === 'failed' ? task : undefined;
    });
    expect(settled.status, settled.error).toBe('done');
  });
});
