import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OrcEvent } from '@orc/shared';
import { Sandbox } from '../daemon/harness.js';

/** `orc rollback` and what `orc show` says after it, as a user types them (built CLI, real daemon). */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const ZERO_LATENCY = { models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 0 } } };

// a → b, and c on its own.
const TASKS = [
  { id: 'a', title: 'Write the parser' },
  { id: 'b', title: 'Test the parser', dependencies: ['a'] },
  { id: 'c', title: 'Write the docs' },
];

describe('orc rollback from the command line', () => {
  it('takes a label, says what it reset, and leaves the run paused for the rollback', async () => {
    box = await Sandbox.create();
    await box.writeConfig(ZERO_LATENCY);
    const file = join(box.home, 'tasks.json');
    await writeFile(file, JSON.stringify({ tasks: TASKS }));
    const run = await box.orc(['run', file, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    const checkpoint = await box.orc(['checkpoint', runId, '--label', 'all done']);
    expect(checkpoint.code, checkpoint.stderr).toBe(0);
    const id = /checkpoint (cp\d+) /.exec(checkpoint.stdout)![1]!;

    const unknown = await box.orc(['rollback', runId, 'al done']);
    expect(unknown).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `orc: run ${runId} has no checkpoint "al done"; its checkpoints: cp1, ${id} "all done"\n`,
    });

    const rolled = await box.orc(['rollback', runId, 'all done', '--strategy', 'selective', '--tasks', 'b']);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout.split('\n')).toEqual([
      `rolled ${runId} back to ${id} (selective: only the chosen tasks and every task that depends on them; a repository run reverts their merges)`,
      'reset 1 task: b',
      'kept 2 done tasks: a, c',
      `${runId} is paused; orc resume ${runId} goes on with the reset tasks`,
      '',
    ]);
    const shown = await box.orc(['show', runId]);
    expect(shown.stdout).toContain(`run ${runId} paused (rollback)`);
    expect(shown.stdout).toContain(`paused: rolled back to ${id}; orc resume goes on`);
    // orc inbox has nothing for a pause a person chose: orc show does not say the run waits for one.
    expect((await box.orc(['inbox'])).stdout).toBe(
      'nothing waits for you (orc inbox --all shows what did)\n',
    );
    expect(shown.stdout).not.toContain('for a person');
    expect(shown.stdout).toContain(`no finish time while it is paused (orc resume ${runId} goes on)`);
    // An attempt of a few milliseconds is not "0s".
    const attempts = shown.stdout.split('\n').filter((line) => /^\s+#\d+ · /.test(line));
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    for (const line of attempts) expect(line).toMatch(/^\s+#\d+ · w\d+ · \S+ · (<0\.1s|\d\.\ds|\d+s) · /);
  });

  it('numbers the redo after a full rollback as a new attempt, and starts its time over', async () => {
    box = await Sandbox.create();
    await box.writeConfig(ZERO_LATENCY);
    const file = join(box.home, 'tasks.json');
    await writeFile(file, JSON.stringify({ tasks: TASKS }));
    const run = await box.orc(['run', file, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    // cp1 is the run's first checkpoint, before any task was done: every task is worked again.
    expect((await box.orc(['rollback', runId, 'cp1', '--strategy', 'full'])).code).toBe(0);
    expect((await box.orc(['resume', runId])).code).toBe(0);
    const followed = await box.orc(['logs', runId, '--follow']);
    expect(followed.stdout).toMatch(/run\.completed/);

    const logs = (await box.orc(['logs', runId])).stdout;
    for (const task of ['a', 'b', 'c']) {
      const numbers = [
        ...logs.matchAll(new RegExp(`task\\.assigned +${task} -> worker \\d+ \\(attempt (\\d+)\\)`, 'g')),
      ].map((m) => Number(m[1]));
      // Its first attempt, then the rollback's redo: #2, not a second #1.
      expect(numbers, task).toEqual([1, 2]);
    }
    const shown = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as {
      tasks: {
        id: string;
        readyAt?: string;
        startedAt?: string;
        attempts: { n: number; startedAt: string }[];
      }[];
    };
    for (const task of shown.tasks) {
      expect(
        task.attempts.map((a) => a.n),
        task.id,
      ).toEqual([2]);
      // Its start is the redo's: not before it was queued again.
      expect(task.startedAt! >= task.readyAt!, `${task.id}: ${task.readyAt} → ${task.startedAt}`).toBe(true);
      expect(task.startedAt! <= task.attempts[0]!.startedAt, task.id).toBe(true);
    }
    const report = JSON.parse((await box.orc(['report', runId, '--json'])).stdout) as {
      tasks: { id: string; attempts: number; undoneAttempts?: number }[];
    };
    expect(report.tasks.map((t) => [t.id, t.attempts, t.undoneAttempts])).toEqual([
      ['a', 1, 1],
      ['b', 1, 1],
      ['c', 1, 1],
    ]);
  });

  it("keeps the worker's spend and time of an answer a full rollback sends to its review again", async () => {
    box = await Sandbox.create();
    // Each call takes 3 s: the answer waits that long for its review, time to take a checkpoint then.
    await box.writeConfig({ ...ZERO_LATENCY, simulated: { latency_ms: { min: 3000, max: 3000 } } });
    const file = join(box.home, 'tasks.json');
    await writeFile(file, JSON.stringify({ tasks: [TASKS[0]] }));
    const runId = (await box.orc(['run', file, '--detach'])).stdout.trim();
    const client = await box.client();
    await new Promise<void>((resolve, reject) => {
      const sub = client.trpc.runs.events.subscribe(
        { runId, lastEventId: null },
        {
          onData: ({ data }: { data: OrcEvent }) => {
            if (data.type !== 'task.status' || data.status !== 'reviewing') return;
            sub.unsubscribe();
            resolve();
          },
          onError: reject,
        },
      );
    });
    const checkpoint = await box.orc(['checkpoint', runId, '--label', 'answered']);
    expect(checkpoint.code, checkpoint.stderr).toBe(0);
    expect((await box.orc(['logs', runId, '--follow'])).stdout).toMatch(/run\.completed/);
    const rolled = await box.orc(['rollback', runId, 'answered', '--strategy', 'full']);
    expect(rolled.code, rolled.stderr).toBe(0);
    const { lastEventId } = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as {
      lastEventId: number;
    };
    expect((await box.orc(['resume', runId])).code).toBe(0);
    const followed = await box.orc(['logs', runId, '--follow', '--after', String(lastEventId)]);
    // The kept answer is reviewed again, with no new attempt.
    expect(followed.stdout).toMatch(/task\.reviewed +a accept/);
    expect(followed.stdout).not.toMatch(/task\.assigned/);

    const shown = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as {
      tasks: { attempts: { costUsd: number; reviewSpend?: { costUsd: number } }[] }[];
    };
    const attempts = shown.tasks[0]!.attempts;
    expect(attempts).toHaveLength(1);
    const workerCost = attempts[0]!.costUsd - attempts[0]!.reviewSpend!.costUsd;
    expect(workerCost).toBeGreaterThan(0);
    const report = JSON.parse((await box.orc(['report', runId, '--json'])).stdout) as {
      tasks: {
        attempts: number;
        spend: { costUsd: number; usage: { inputTokens: number } };
        elapsedMs: number;
      }[];
      spend: { workers: { costUsd: number } };
    };
    const row = report.tasks[0]!;
    expect(row.attempts).toBe(1);
    // As orc show has it: the worker's call; the reviews are the manager's.
    expect(row.spend.costUsd).toBeCloseTo(workerCost, 9);
    expect(row.spend.usage.inputTokens).toBeGreaterThan(0);
    // Its worker's 3 s.
    expect(row.elapsedMs).toBeGreaterThanOrEqual(2900);
    expect(report.spend.workers.costUsd).toBeCloseTo(workerCost, 9);
  }, 60_000);

  it('names a task without a title and the fix, in one line', async () => {
    box = await Sandbox.create();
    await box.writeConfig(ZERO_LATENCY);
    const file = join(box.home, 'tasks.json');
    await writeFile(file, JSON.stringify({ tasks: [{ id: 'a' }, { id: 'b', title: 'B' }] }));
    const run = await box.orc(['run', file, '--detach']);
    expect(run).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `orc: ${file}: task a has no title; give it "title": a line that says what it does\n`,
    });
  });
});
