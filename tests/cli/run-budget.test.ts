import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCost, type InboxItem, type OrcEvent, type RunView } from '@orc/shared';
import { startFakeAnthropicServer, type FakeAnthropicServer } from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

/**
 * A run's budget as a new user met it in a foreground `orc run` (built CLI, real daemon, the Anthropic
 * SDK against the fake server): the run paused before a task whose attempt and review did not fit, with
 * another task's work still under way. The journal said `run.budget_exceeded` of a budget not passed,
 * `orc run` ended printing the spend before that work landed ($0.0013, then $0.0026), and gave two
 * different ways to resume side by side.
 */
let box: Sandbox;
let server: FakeAnthropicServer | undefined;
afterEach(async () => {
  await box.cleanup();
  await server?.close();
  server = undefined;
});

const SLOW_TITLE = 'Write bravo';
const TASKS = [
  { id: 'a', title: 'Write alpha' },
  { id: 'b', title: SLOW_TITLE },
  { id: 'c', title: 'Write delta' },
];

const journal = async (runId: string): Promise<OrcEvent[]> =>
  (await readFile(join(box.home, 'runs', runId, 'events.jsonl'), 'utf8'))
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as OrcEvent);

describe('orc run paused at its budget', () => {
  it('says what did not fit, prints the spend once the work under way landed, and one way to go on', async () => {
    let slow = false;
    // Task b's attempt takes 3 s once `slow` is set; every other call answers at once.
    server = await startFakeAnthropicServer({
      latencyMs: (body) =>
        slow && String(body.model).includes('sonnet') && JSON.stringify(body.messages).includes(SLOW_TITLE)
          ? 3_000
          : 20,
    });
    box = await Sandbox.create({ ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef' });
    await writeFile(join(box.home, 'tasks.json'), JSON.stringify(TASKS));
    const models = { provider: 'anthropic', base_url: server.url };

    // What a task costs here (its attempt and review), measured on a run of the same tasks without a budget.
    await box.writeConfig({ models, execution: { max_workers: 1 } });
    const measured = await box.orc(['run', 'tasks.json', '--json'], { timeoutMs: 60_000 });
    expect(measured.code, measured.stderr).toBe(0);
    const measuredRun = JSON.parse(
      (await box.orc(['show', (JSON.parse(measured.stdout) as { id: string }).id, '--json'])).stdout,
    ) as RunView;
    const taskCost = (id: string) =>
      measuredRun.tasks.find((t) => t.id === id)!.attempts.reduce((sum, a) => sum + a.costUsd, 0);
    // Two tasks fit, three do not: once a lands, b runs (or goes on) and c does not fit beside it.
    const limit = 2.5 * taskCost('a');

    slow = true;
    await box.writeConfig({ models, execution: { max_workers: 2, max_cost_usd: limit } });
    const run = await box.orc(['run', 'tasks.json'], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(6);
    const runId = /^run (r\w+) started/.exec(run.stdout)![1]!;
    const shown = JSON.parse((await box.orc(['show', runId, '--json'])).stdout) as RunView;
    expect(shown).toMatchObject({ status: 'paused', pauseReason: 'budget', busyWorkers: 0 });
    // b's work landed after the pause, and the line `orc run` ended with tells it.
    const events = await journal(runId);
    const paused = events.findIndex((e) => e.type === 'run.budget_would_exceed');
    expect(paused, 'the pause').toBeGreaterThan(0);
    expect(events.slice(paused).some((e) => e.type === 'task.worked' && e.taskId === 'b')).toBe(true);
    expect(run.stdout).toContain(`waiting for the work of 1 task under way to land`);
    const cost = /^run \w+ paused: .*, (\$[\d.]+)$/m.exec(run.stdout)?.[1];
    expect(cost, run.stdout).toBe(formatCost(shown.costUsd));

    // Not passed: c's attempt and review did not fit, in the journal, `orc show` and the inbox alike.
    expect(events.some((e) => e.type === 'run.budget_exceeded')).toBe(false);
    expect(events[paused]).toMatchObject({ nextTask: 'c', limitUsd: limit });
    expect(shown.pauseMessage).toMatch(
      new RegExp(
        `^spent \\$[\\d.]+ of the \\$[\\d.]+ budget, and the next task \\(c\\) needs about \\$[\\d.]+ for its attempt and review, which does not fit; orc resume ${runId} --budget <usd> goes on within a new one, without --budget past it$`,
      ),
    );
    const lastPause = events.filter((e) => e.type === 'run.paused').at(-1);
    expect(lastPause).toMatchObject({ reason: 'budget', message: shown.pauseMessage });
    const items = (JSON.parse((await box.orc(['inbox', '--json'])).stdout) as { items: InboxItem[] }).items;
    expect(items.find((item) => item.runId === runId)?.question).toBe(
      `run ${runId} is paused at its budget: ${shown.pauseMessage!}`,
    );
    // One way to go on: the inbox item's, not the run's own hint beside it.
    expect(run.stdout).not.toContain('continue with orc resume');
    const end = run.stdout.slice(run.stdout.indexOf(`run ${runId} paused:`));
    expect(end.match(/orc resume/g), end).toHaveLength(1);
    // Every event up to the last the run view holds is told before the end (none skipped by the wait).
    expect(run.stdout).toContain(`#${shown.lastEventId} `);
  }, 120_000);
});
