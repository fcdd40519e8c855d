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

// The journal's whole lines: read while the daemon appends, it may end in half a line.
const eventTypes = async (runId: string) =>
  (await readFile(join(box.home, 'runs', runId, 'events.jsonl'), 'utf8'))
    .split('\n')
    .slice(0, -1)
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
        `^orc: task t1 has cost \\$0\\.\\d+ of a \\$0\\.001 cap \\(execution\\.max_task_cost_usd\\): a retry \\(an attempt and its review\\) needs \\$(0\\.\\d+); orc retry ${runId} t1 --task-budget \\1 \\(or more\\) raises the run's cap\\n$`,
      ),
    );
    // Nothing changed: the run did not reopen, nor go through its final review again.
    expect((JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { status: string }).status).toBe(
      'failed',
    );
    expect((await eventTypes(runId)).filter((type) => type === 'run.failed')).toHaveLength(finalReviews);

    const tooLittle = await box.orc(['retry', runId, 't1', '--task-budget', '0.0011']);
    expect(tooLittle.code).toBe(4);
    // The figure just asked is named as asked, not as the run's cap ("of a $0.0011 cap").
    expect(tooLittle.stderr).toMatch(
      new RegExp(
        `^orc: --task-budget 0\\.0011 is not enough for task t1: it has cost \\$0\\.\\d+ and a retry \\(an attempt and its review\\) needs \\$(0\\.\\d+); orc retry ${runId} t1 --task-budget \\1 \\(or more\\) raises the run's cap\\n$`,
      ),
    );
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
  }, 90_000);

  it('orc answer skip says what it did, not the question again', async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
      execution: { max_task_cost_usd: 0.001, max_workers: 1 },
    });
    const run = await box.orc(['run', 'Three tasks', '--json']);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    const itemId = /^(i\d+) /m.exec((await box.orc(['inbox'])).stdout)?.[1];
    expect(itemId).toBeDefined();
    const skipped = await box.orc(['answer', itemId!, 'skip']);
    expect(skipped).toMatchObject({
      code: 0,
      stdout: `${itemId!} answered skip: task t1 of run ${runId} is skipped: what waits for it goes on\n`,
    });
  }, 90_000);

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
    const advised = /--task-budget (\d+\.\d+) \(or more\)/.exec(refused.stderr)?.[1];
    expect(advised, refused.stderr).toBeDefined();
    const shown = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { error: string };
    // The cap once, with the figure and the command; the failure it repeated is not told again.
    expect(shown.error).toMatch(
      new RegExp(
        `^task t1 is at the cost cap of a task \\(execution\\.max_task_cost_usd \\$0\\.001\\) and t1 needs \\$${advised} to be retried: orc retry ${runId} t1 --task-budget ${advised} \\(or more\\) raises it; 3 tasks never ran because a dependency did not finish$`,
      ),
    );
    // The task's own error names the cap, the figure it needs and the command.
    const t1 = JSON.parse((await box.orc(['show', runId, 't1', '--json'])).stdout) as {
      error: string;
      attempts: { costUsd: number }[];
    };
    expect(t1.error).toMatch(
      new RegExp(
        `^permanent error: task t1 would pass the cost cap of a task \\(\\$0\\.001, execution\\.max_task_cost_usd\\): it has cost \\$(0\\.\\d+) and a review (?:costs about|is guessed at) \\$0\\.\\d+ \\([^)]*\\); a retry is counted as \\$(0\\.\\d+) spent \\+ \\$(0\\.\\d+) for an attempt \\([^)]*\\) \\+ \\$(0\\.\\d+) for its review \\([^)]*\\), rounded up; a retry needs a cap of \\$${advised}: orc retry ${runId} t1 --task-budget ${advised}$`,
      ),
    );
    // The parts a person reads add up to the figure, short of it by the rounding up alone.
    const [, spent, counted, attemptPart, reviewPart] =
      /it has cost \$(\S+) .* counted as \$(\S+) spent \+ \$(\S+) for an attempt .* \+ \$(\S+) for its review/.exec(
        t1.error,
      )!;
    expect(counted).toBe(spent);
    const sum = Number(spent) + Number(attemptPart) + Number(reviewPart);
    expect(sum).toBeLessThanOrEqual(Number(advised) + 1e-9);
    expect(Number(advised) - sum).toBeLessThan(0.0001);
    // An attempt's cost under the cap does not read as the cap ($0.0006 read $0.001).
    expect(t1.attempts[0]!.costUsd).toBeLessThan(0.001);
    const attemptLine = (await box.orc(['show', runId, 't1'])).stdout
      .split('\n')
      .find((line) => line.startsWith('attempt #1'));
    expect(attemptLine).toMatch(/ · \$0\.000\d{1,2}(?: · |$)/);

    const inbox = await box.orc(['inbox']);
    // Every answer it takes, and the figure a bare raise sets.
    expect(inbox.stdout).toMatch(
      new RegExp(
        `orc answer (i\\d+) raise\\|skip; raise sets the cost cap of a task to \\$${advised}, raise --budget <usd> to another\\n`,
      ),
    );
    expect(inbox.stdout).toContain(`task t1 of run ${runId} failed at the cost cap of a task ($0.001)`);
    const itemId = /orc answer (i\d+) raise/.exec(inbox.stdout)![1]!;
    const items = JSON.parse((await box.orc(['inbox', '--json'])).stdout) as {
      items: { choices: { id: string; label: string; budgetUsd?: number }[] }[];
    };
    expect(items.items[0]!.choices[0]).toMatchObject({
      id: 'raise',
      label: `raise the cost cap of a task to $${advised} and run it again (or raise --budget <usd> for another cap)`,
      budgetUsd: Number(advised),
    });
    // A budget goes only with the raise.
    const wrong = await box.orc(['answer', itemId, 'skip', '--budget', '1']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^orc: a budget goes with a budget item or a raise of a task's cap/);

    // A figure too low is refused in the answer's own words (it named orc retry's --task-budget), over
    // the run's cap or not: it is checked against what the task needs.
    for (const figure of ['0.0001', '0.0015']) {
      const low = await box.orc(['answer', itemId, 'raise', '--budget', figure]);
      expect(low.code).toBe(4);
      expect(low.stderr).toMatch(
        new RegExp(
          `^orc: a cap of \\$${figure.replace('.', '\\.')} is too low for task t1: it has cost \\$0\\.\\d+ and a retry \\(an attempt and its review\\) needs \\$${advised}; orc answer ${itemId} raise gives it \\$${advised} \\(raise --budget <usd> for ${advised} or more\\)\\n$`,
        ),
      );
    }

    // As a key press in the terminal UI answers it: no figure, the one shown; the line says it.
    const answered = await box.orc(['answer', itemId, 'raise']);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toBe(
      `${itemId} answered raise: the cost cap of a task is $${advised} now (was $0.001), for every task of run ${runId}; task t1 runs again\n`,
    );
    const done = await waitFor(async () => {
      const view = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { status: string };
      return view.status === 'completed' ? view : undefined;
    });
    expect(done.status).toBe('completed');
  }, 90_000);

  it('gives one figure per task everywhere, after a restart too; a raise for one revises the others', async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
      execution: { max_task_cost_usd: 0.001, max_workers: 1 },
    });
    const tasks = join(box.home, 'three.json');
    await writeFile(
      tasks,
      JSON.stringify(
        ['tea', 'rain', 'snow'].map((what, i) => ({ id: `h${i + 1}`, title: `Write a haiku about ${what}` })),
      ),
    );
    const run = await box.orc(['run', tasks, '--json']);
    expect(run.code, run.stderr).toBe(1);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    interface Item {
      id: string;
      taskId: string;
      question: string;
      choices: { id: string; budgetUsd?: number }[];
    }
    const inboxItems = async () =>
      (JSON.parse((await box.orc(['inbox', '--json'])).stdout) as { items: Item[] }).items;
    const figures = async () => {
      const items = await inboxItems();
      return Promise.all(
        ['h1', 'h2', 'h3'].map(async (taskId) => {
          const retry = await box.orc(['retry', runId, taskId]);
          const error = (
            JSON.parse((await box.orc(['show', runId, taskId, '--json'])).stdout) as { error: string }
          ).error;
          return {
            inbox: items.find((item) => item.taskId === taskId)?.choices[0]?.budgetUsd,
            retry: Number(/--task-budget (\d+\.\d+) \(or more\)/.exec(retry.stderr)?.[1]),
            error: Number(/--task-budget (\d+\.\d+)$/.exec(error)?.[1]),
          };
        }),
      );
    };
    const before = await figures();
    for (const figure of before) expect(new Set([figure.inbox, figure.retry, figure.error]).size).toBe(1);
    const shown = (JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { error: string }).error;
    expect(shown).toContain(`h1 needs $${before[0]!.inbox} to be retried`);
    // A restarted daemon foresees nothing yet: the figures were $0.0046 before and $0.0020 after in a trial.
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect(await figures()).toEqual(before);

    // A raise for h1 to a cap that covers every task: the others are not run unasked, but say the new cap
    // and offer a plain retry.
    const cap = Math.max(...before.map((figure) => figure.inbox!));
    const items = await inboxItems();
    const h1 = items.find((item) => item.taskId === 'h1')!;
    const answered = await box.orc(['answer', h1.id, 'raise', '--budget', String(cap)]);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toBe(
      `${h1.id} answered raise: the cost cap of a task is $${cap} now (was $0.001), for every task of run ${runId}; task h1 runs again; h2, h3 stopped at the old cap and fit this one: orc inbox offers each a retry, orc retry ${runId} --all-capped runs them all\n`,
    );
    const settled = await waitFor(async () => {
      const view = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as {
        status: string;
        error?: string;
      };
      return view.status === 'failed' ? view : undefined;
    });
    expect(settled.error).toBe(
      `2 tasks (first: h2) stopped at the cost cap of a task before it was raised to $${cap}, enough now: orc retry ${runId} h2 runs it again, orc retry ${runId} --all-capped runs them all`,
    );
    const inbox = await box.orc(['inbox']);
    for (const taskId of ['h2', 'h3']) {
      const item = (await inboxItems()).find((candidate) => candidate.taskId === taskId)!;
      expect(item.question).toMatch(
        new RegExp(
          `^task ${taskId} of run ${runId} failed at the cost cap of a task \\(\\$0\\.001\\): it has cost \\$0\\.\\d+; the cap is \\$${cap} now, enough for a retry$`,
        ),
      );
      expect(inbox.stdout).toContain(
        `orc answer ${item.id} retry|retry_all|skip; retry_all runs every task stopped at the cap again\n`,
      );
    }
    // Their own errors (orc show, the screen's task detail) follow the cap too: a plain retry, not the
    // figure under the new cap a trial was still told, whose command then lowered the cap without a word.
    for (const taskId of ['h2', 'h3']) {
      const error = (
        JSON.parse((await box.orc(['show', runId, taskId, '--json'])).stdout) as { error: string }
      ).error;
      expect(error).toMatch(
        /^permanent error: task h\d would pass the cost cap of a task \(\$0\.001, execution\.max_task_cost_usd\)/,
      );
      expect(
        error.endsWith(`; the cap is $${cap} now, enough for a retry: orc retry ${runId} ${taskId}`),
      ).toBe(true);
    }
    const lower = await box.orc(['retry', runId, 'h3', '--task-budget', '0.002']);
    expect(lower.code).toBe(4);
    expect(lower.stdout).toBe('');
    expect(lower.stderr.trim().split('\n')).toEqual([
      `orc: --task-budget 0.002 is under the run's cost cap of a task ($${cap}) and would lower it for every task; orc retry ${runId} h3 runs it within $${cap} (a run's cap is only raised: set execution.max_task_cost_usd lower for a new run)`,
    ]);
    expect((await eventTypes(runId)).filter((type) => type === 'run.task_budget_set')).toHaveLength(1);
    const h3 = JSON.parse((await box.orc(['show', runId, 'h3', '--json'])).stdout) as ShownTask;
    expect(h3.status).toBe('failed');
    const h2 = (await inboxItems()).find((item) => item.taskId === 'h2')!;
    const retried = await box.orc(['answer', h2.id, 'retry']);
    expect(retried.code, retried.stderr).toBe(0);
    await waitFor(async () => {
      const task = JSON.parse((await box.orc(['show', runId, 'h2', '--json'])).stdout) as ShownTask;
      return task.status === 'done' ? task : undefined;
    });
    // Some thirty commands, each its own process: more than the default on a loaded machine.
  }, 120_000);

  it('runs every task stopped at the cap again at once: orc retry --all-capped, or one inbox answer', async () => {
    // Eight tasks stopped at a cap made eight items; after one raise each retry needed its own answer.
    const capped = async (name: string) => {
      const tasks = join(box.home, `${name}.json`);
      await writeFile(
        tasks,
        JSON.stringify(
          ['tea', 'rain', 'snow'].map((what, i) => ({
            id: `h${i + 1}`,
            title: `Write a haiku about ${what}`,
          })),
        ),
      );
      const run = await box.orc(['run', tasks, '--json']);
      expect(run.code, run.stderr).toBe(1);
      return (JSON.parse(run.stdout) as { id: string }).id;
    };
    interface Item {
      id: string;
      runId: string;
      taskId: string;
      status: string;
      closed?: { reason: string; outcome?: string };
      choices: { id: string; label: string; budgetUsd?: number }[];
    }
    const inboxItems = async (all = false) =>
      (
        JSON.parse((await box.orc(['inbox', '--json', ...(all ? ['--all'] : [])])).stdout) as {
          items: Item[];
        }
      ).items;
    const completed = (runId: string) =>
      waitFor(async () => {
        const view = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as { status: string };
        return view.status === 'completed' ? view : undefined;
      });
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
      execution: { max_task_cost_usd: 0.001, max_workers: 1 },
    });

    // From the command line: refused under the cap as it is, with the figure that covers them all.
    const first = await capped('first');
    const figures = (await inboxItems())
      .filter((item) => item.runId === first)
      .map((item) => item.choices.find((c) => c.id === 'raise')!.budgetUsd!);
    expect(figures).toHaveLength(3);
    const most = Math.max(...figures);
    const refused = await box.orc(['retry', first, '--all-capped']);
    expect(refused).toMatchObject({ code: 4, stdout: '' });
    expect(refused.stderr).toMatch(
      new RegExp(
        `^orc: the cost cap of a task is \\$0\\.001: of the 3 tasks stopped at it, task h\\d needs \\$${most} to be retried; orc retry ${first} --all-capped --task-budget ${most} \\(or more\\) raises the run's cap and runs them all\\n$`,
      ),
    );
    const both = await box.orc(['retry', first, 'h1', '--all-capped']);
    expect(both.code).toBe(2);
    const retried = await box.orc(['retry', first, '--all-capped', '--task-budget', String(most)]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(
      new RegExp(
        `^retrying 3 tasks stopped at the cost cap of a task in ${first} \\(\\w+\\): h1, h2, h3\\n$`,
      ),
    );
    await completed(first);
    // Their items closed as the tasks ran: nothing of the run waits in the inbox.
    expect((await inboxItems()).filter((item) => item.runId === first)).toEqual([]);
    expect((await eventTypes(first)).filter((type) => type === 'run.task_budget_set')).toHaveLength(1);

    // From the inbox: each item offers the one answer, with the figure that covers them all.
    const second = await capped('second');
    const items = (await inboxItems()).filter((item) => item.runId === second);
    expect(items).toHaveLength(3);
    const cap = Math.max(...items.map((item) => item.choices.find((c) => c.id === 'raise')!.budgetUsd!));
    for (const item of items)
      expect(item.choices.find((c) => c.id === 'retry_all')).toEqual({
        id: 'retry_all',
        key: 'a',
        label: `raise the cost cap of a task to $${cap} and run every task stopped at the cap again (or retry_all --budget <usd> for another cap)`,
        budgetUsd: cap,
      });
    expect((await box.orc(['inbox'])).stdout).toContain(
      `orc answer ${items[0]!.id} raise|retry_all|skip; raise sets the cost cap of a task to $${items[0]!.choices[0]!.budgetUsd}, raise --budget <usd> to another; retry_all sets it to $${cap} and runs every task stopped at the cap again\n`,
    );
    const answered = await box.orc(['answer', items[1]!.id, 'retry_all']);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toBe(
      `${items[1]!.id} answered retry_all: the cost cap of a task is $${cap} now (was $0.001), for every task of run ${second}; 3 tasks stopped at the cap run again: h1, h2, h3\n`,
    );
    await completed(second);
    const closed = (await inboxItems(true)).filter((item) => item.runId === second);
    expect(closed.map((item) => [item.taskId, item.status, item.closed?.reason])).toEqual([
      ['h1', 'closed', 'obsolete'],
      ['h2', 'closed', 'answered'],
      ['h3', 'closed', 'obsolete'],
    ]);
  }, 120_000);

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
