import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createScriptedProvider,
  eventually,
  tempHome,
  testConfig,
  type ScriptedProvider,
} from '@orc/test-support';
import type { ConfigInput, InboxItem, TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { CommandChannel } from '../notify/command-channel.js';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';

/**
 * The inbox with the real engine: runs on a scripted model open and close items as they wait and go on,
 * a person's answers act on the runs, and every push goes through a real command that appends it to a file.
 */
let engine:
  { home: string; orchestrator: Orchestrator; pushes: string; remove: () => Promise<void> } | undefined;
afterEach(async () => {
  await engine?.orchestrator.close(0);
  await engine?.remove();
  engine = undefined;
});

async function open(provider: ScriptedProvider, config: ConfigInput = {}, home?: string) {
  const temp = home === undefined ? await tempHome('orc-inbox-engine-') : undefined;
  const dir = home ?? temp!.home;
  const pushes = join(dir, 'pushes.jsonl');
  const orchestrator = await createOrchestrator({
    home: dir,
    loaded: testConfig(dir, { models: { provider: 'simulated' }, ...config }),
    retryBaseMs: 1,
    providers: () => provider,
    notificationChannels: [new CommandChannel(`cat >> '${pushes}'`)],
  });
  engine = { home: dir, orchestrator, pushes, remove: temp?.remove ?? (() => Promise.resolve()) };
  return engine;
}

const tasks = (n: number): TaskSpecInput[] =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i + 1}`, title: `Task ${i + 1}` }));

const open_ = (orchestrator: Orchestrator, runId?: string) =>
  orchestrator.listInbox(runId === undefined ? {} : { runId }).items;

async function until(orchestrator: Orchestrator, what: string, check: (items: InboxItem[]) => boolean) {
  await eventually(() => check(open_(orchestrator)), what);
  return open_(orchestrator);
}

function pushed(file: string): { kind: string; text: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { kind: string; text: string });
}

const costly = () =>
  createScriptedProvider({
    // $1 a task: 100k output tokens of the worker model at $10 a million.
    usage: (call) => ({
      inputTokens: 0,
      outputTokens: call.purpose === 'work' ? 100_000 : 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    }),
  });

describe('the inbox, fed by the runs', () => {
  it('a run paused at its budget is an item; answered with a new budget, the run goes on and the item closes', async () => {
    const { orchestrator, pushes } = await open(costly(), {
      execution: { max_workers: 1, max_cost_usd: 2.5 },
    });
    const run = await orchestrator.startRun({ tasks: tasks(4) });
    expect(await orchestrator.waitForRun(run.id)).toMatchObject({ pauseReason: 'budget' });
    const [item] = await until(orchestrator, 'the budget item', (items) => items.length === 1);
    expect(item).toMatchObject({ type: 'budget', runId: run.id, status: 'open' });
    expect(item!.question).toContain(`run ${run.id} is paused at its budget`);
    expect(item!.choices.map((c) => c.id)).toEqual(['resume', 'cancel']);

    const answered = await orchestrator.answerInbox(item!.id, { choice: 'resume', budgetUsd: 10 });
    // The answer says what it did, not the item's question again.
    expect(answered.closed).toEqual({
      reason: 'answered',
      choice: 'resume',
      outcome: `run ${run.id} goes on within a budget of $10.00`,
    });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(open_(orchestrator)).toEqual([]);
    await eventually(
      () =>
        pushed(pushes)
          .map((p) => p.kind)
          .join() === 'budget,run_completed',
      'the budget item and the run end pushed',
    );
    expect(pushed(pushes)[0]!.text).toContain(`orc answer ${item!.id} resume|cancel`);
    // The run stood still for a person between the pause and the answer.
    expect(orchestrator.listInbox({ runId: run.id }).waits!.runMs).toBeGreaterThanOrEqual(0);
  });

  it('a task out of retries is an item: retry runs it again, and it closes as answered', async () => {
    let fail = true;
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 't2' && fail) throw new ModelError('permanent', 'the input file is missing');
        return `done ${call.taskId ?? ''}`;
      },
    });
    const { orchestrator } = await open(provider, { execution: { max_workers: 2 } });
    const run = await orchestrator.startRun({ tasks: tasks(3) });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('failed');
    const [item] = await until(orchestrator, 'the failed task', (items) => items.length === 1);
    expect(item).toMatchObject({ type: 'task_failed', runId: run.id, taskId: 't2' });
    expect(item!.question).toContain('the input file is missing');

    fail = false;
    await orchestrator.answerInbox(item!.id, { choice: 'retry' });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(open_(orchestrator)).toEqual([]);
    expect(orchestrator.listInbox({ all: true }).items[0]!.closed).toEqual({
      reason: 'answered',
      choice: 'retry',
      outcome: `task t2 of run ${run.id} runs again`,
    });
  });

  /**
   * A run whose tasks after `slow` are all cancelled by a person while it runs: once slow is done, the
   * work left waits for them and the run is paused (held).
   */
  async function heldRun(cancelled: string[]) {
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 'slow' ? 200 : 0),
    });
    const { orchestrator } = await open(provider);
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'slow', title: 'Slow' },
        ...cancelled.map((id) => ({ id, title: id, dependencies: ['slow'] })),
        { id: 'then', title: 'Then', dependencies: cancelled },
      ],
    });
    for (const id of cancelled) await orchestrator.cancelTask(run.id, id);
    expect(await orchestrator.waitForRun(run.id)).toMatchObject({ status: 'paused', pauseReason: 'held' });
    return { provider, orchestrator, run };
  }

  it('a run held by tasks a person cancelled is an item; retry runs them, the run goes on and it closes', async () => {
    const { provider, orchestrator, run } = await heldRun(['later', 'other']);
    const [item] = await until(orchestrator, 'the held run', (items) => items.length === 1);
    expect(item).toMatchObject({
      type: 'run_held',
      runId: run.id,
      question: `run ${run.id} is paused (held): the work left waits for tasks later, other, cancelled by a person`,
      detail:
        'the tasks left wait for later, other, cancelled by a person: edit, retry or skip them (orc task edit, orc retry, orc skip), or remove them (orc task rm)',
    });
    expect(item!.choices.map((c) => [c.id, c.label])).toEqual([
      ['retry', 'run the cancelled tasks again, then what waits'],
      ['skip', 'skip the cancelled tasks: what waits goes on'],
      ['cancel', 'cancel the run'],
    ]);

    await orchestrator.answerInbox(item!.id, { choice: 'retry' });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', 'other')).toHaveLength(1);
    expect(open_(orchestrator)).toEqual([]);
  });

  it('a task a person cancelled that nothing waits for holds the run too: an item, no final review; skip ends it', async () => {
    // The trial: cancelling a leaf task failed the whole run once the rest were done, after a paid final
    // review, and left no item, though its cancel said it waits for the person.
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 'slow' ? 200 : 0),
    });
    const { orchestrator } = await open(provider);
    const run = await orchestrator.startRun({
      tasks: [
        { id: 'slow', title: 'Slow' },
        { id: 'leaf', title: 'Leaf' },
      ],
    });
    await orchestrator.cancelTask(run.id, 'leaf');
    expect(await orchestrator.waitForRun(run.id)).toMatchObject({ status: 'paused', pauseReason: 'held' });
    const [item] = await until(orchestrator, 'the held run', (items) => items.length === 1);
    expect(item).toMatchObject({
      type: 'run_held',
      runId: run.id,
      question: `run ${run.id} is paused (held): task leaf, cancelled by a person, waits for you before the run's final review`,
    });
    expect(item!.choices.map((c) => [c.id, c.label])).toEqual([
      ['retry', 'run the cancelled task again'],
      ['skip', 'skip the cancelled task: the run finishes without it'],
      ['cancel', 'cancel the run'],
    ]);
    expect(provider.callsFor('final-review')).toEqual([]);

    const worked = provider.callsFor('work', 'leaf').length;
    expect(await orchestrator.answerInbox(item!.id, { choice: 'skip' })).toMatchObject({
      closed: { reason: 'answered', choice: 'skip', outcome: `task leaf is skipped in run ${run.id}` },
    });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', 'leaf')).toHaveLength(worked);
    expect(provider.callsFor('final-review')).toHaveLength(1);
    expect(open_(orchestrator)).toEqual([]);
  });

  it("a held run's item is revised when one of its tasks is skipped: it lists only the tasks still waiting", async () => {
    // The trial: "tasks t1, t5, … wait for you" after t5 was skipped.
    const { orchestrator, run } = await heldRun(['later', 'other']);
    const [before] = await until(orchestrator, 'the held run', (items) => items.length === 1);
    await orchestrator.skipTask(run.id, 'other');
    const [after] = await until(
      orchestrator,
      'the item revised',
      (items) => items.length === 1 && items[0]!.question !== before!.question,
    );
    expect(after).toMatchObject({
      id: before!.id,
      type: 'run_held',
      question: `run ${run.id} is paused (held): the work left waits for task later, cancelled by a person`,
    });
    expect(after!.detail).not.toContain('other');
    expect(after!.choices.map((c) => c.label)).toContain('run the cancelled task again, then what waits');
    const held = await orchestrator.getRun(run.id);
    expect(held).toMatchObject({ status: 'paused', pauseReason: 'held' });
    expect(held.pauseMessage).toMatch(/^the tasks left wait for later, cancelled by a person:/);

    // One more cancelled while it is held holds it too, and the item says so.
    await orchestrator.cancelTask(run.id, 'then');
    const [more] = await until(
      orchestrator,
      'the item revised again',
      (items) => items.length === 1 && items[0]!.question.includes('then'),
    );
    expect(more!.question).toBe(
      `run ${run.id} is paused (held): tasks later, then, cancelled by a person, wait for you before the run's final review`,
    );
  });

  it('a held run left another way (a task edited) closes its item as no longer applying', async () => {
    const { orchestrator, run } = await heldRun(['later']);
    await until(orchestrator, 'the held run', (items) => items.length === 1);
    await orchestrator.updateTask(run.id, 'later', { description: 'With more detail.' });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    await until(orchestrator, 'the item to close', (items) => items.length === 0);
    expect(orchestrator.listInbox({ all: true }).items[0]!.closed?.reason).toBe('obsolete');
  });

  it("a failed task's item offers to cancel the run only while the run is live, and says so when that changes", async () => {
    const failing = new Set(['t1', 't2']);
    const provider = createScriptedProvider({
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 't1' ? 200 : 0),
      work: (call) => {
        if (failing.has(call.taskId ?? '')) throw new ModelError('permanent', 'the input file is missing');
        return 'ok';
      },
    });
    const { orchestrator } = await open(provider, { execution: { max_workers: 2 } });
    const seen: string[] = [];
    const stop = new AbortController();
    const following = (async () => {
      for await (const event of orchestrator.inboxEvents(0, stop.signal))
        if (event.item.taskId === 't2')
          seen.push(`${event.type} ${event.item.choices.map((c) => c.id).join()}`);
    })();
    const run = await orchestrator.startRun({ tasks: tasks(3) });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('failed');
    const choicesOf = (taskId: string) =>
      open_(orchestrator)
        .find((item) => item.taskId === taskId)
        ?.choices.map((c) => c.id)
        .join();
    await until(orchestrator, 'both items, for an ended run', () => choicesOf('t1') === 'retry,skip');
    expect(choicesOf('t2')).toBe('retry,skip');
    const t2 = open_(orchestrator).find((item) => item.taskId === 't2')!;
    const refused = await orchestrator.answerInbox(t2.id, { choice: 'cancel' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'INVALID_CHOICE' });

    // t1 retried: the run is live again, and t2's item offers to cancel it until the run ends again.
    failing.delete('t1');
    await orchestrator.retryTask(run.id, 't1');
    await until(orchestrator, 'cancel offered again', () => choicesOf('t2') === 'retry,skip,cancel');
    expect((await orchestrator.waitForRun(run.id)).status).toBe('failed');
    await until(orchestrator, 'cancel withdrawn', () => choicesOf('t2') === 'retry,skip');
    stop.abort();
    await following;
    expect(seen).toEqual([
      'inbox.opened retry,skip,cancel',
      'inbox.notified retry,skip,cancel',
      'inbox.revised retry,skip',
      'inbox.revised retry,skip,cancel',
      'inbox.revised retry,skip',
    ]);
  });

  it('a failed task retried from the command line instead closes as no longer applying', async () => {
    let fail = true;
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 't1' && fail) throw new ModelError('permanent', 'no');
        return 'ok';
      },
    });
    const { orchestrator } = await open(provider);
    const run = await orchestrator.startRun({ tasks: tasks(2) });
    await orchestrator.waitForRun(run.id);
    await until(orchestrator, 'the failed task', (items) => items.length === 1);
    fail = false;
    await orchestrator.retryTask(run.id, 't1');
    await orchestrator.waitForRun(run.id);
    await until(orchestrator, 'the item to close', (items) => items.length === 0);
    expect(orchestrator.listInbox({ all: true }).items[0]!.closed?.reason).toBe('obsolete');
  });

  it('with approve_plan the plan waits: an edit goes back to the manager with the note, the new plan is approved', async () => {
    const provider = createScriptedProvider();
    const { orchestrator, pushes } = await open(provider, { execution: { approve_plan: true } });
    const run = await orchestrator.startRun({ goal: 'Write two parts' });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('awaiting_approval');
    const [first] = await until(orchestrator, 'the plan', (items) => items.length === 1);
    expect(first).toMatchObject({ type: 'plan_approval', runId: run.id });
    expect(first!.detail).toContain('a: First part');
    expect(provider.callsFor('work')).toEqual([]);

    await orchestrator.answerInbox(first!.id, { choice: 'edit', note: 'add a test task' });
    const [second] = await until(
      orchestrator,
      'the plan again',
      (items) => items[0]?.id !== first!.id && items.length === 1,
    );
    expect(provider.callsFor('plan')).toHaveLength(2);
    expect(provider.callsFor('plan')[1]!.request.prompt).toContain('add a test task');
    expect(provider.callsFor('work')).toEqual([]);

    await orchestrator.answerInbox(second!.id, { choice: 'approve' });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(open_(orchestrator)).toEqual([]);
    await eventually(
      () => pushed(pushes).filter((p) => p.kind === 'plan_approval').length === 2,
      'both plans pushed',
    );
  });

  it('a plan waiting for approval and its item survive a daemon restart, with the same id', async () => {
    const provider = createScriptedProvider();
    const first = await open(provider, { execution: { approve_plan: true } });
    const run = await first.orchestrator.startRun({ goal: 'Plan it' });
    await first.orchestrator.waitForRun(run.id);
    const [item] = await until(first.orchestrator, 'the plan', (items) => items.length === 1);
    await first.orchestrator.close(0);
    engine = undefined;

    const second = await open(provider, { execution: { approve_plan: true } }, first.home);
    second.remove = first.remove;
    expect(open_(second.orchestrator)).toEqual([item]);
    expect((await second.orchestrator.getRun(run.id)).status).toBe('awaiting_approval');
    expect(provider.callsFor('work')).toEqual([]);
    await second.orchestrator.answerInbox(item!.id, { choice: 'approve' });
    expect((await second.orchestrator.waitForRun(run.id)).status).toBe('completed');
  });

  it('a refused plan cancels the run', async () => {
    const { orchestrator } = await open(createScriptedProvider(), { execution: { approve_plan: true } });
    const run = await orchestrator.startRun({ goal: 'Plan it' });
    await orchestrator.waitForRun(run.id);
    const [item] = await until(orchestrator, 'the plan', (items) => items.length === 1);
    await orchestrator.answerInbox(item!.id, { choice: 'refuse', note: 'not now' });
    expect((await orchestrator.getRun(run.id)).status).toBe('cancelled');
    expect(open_(orchestrator)).toEqual([]);
  });

  it('no false alarm: a pause a person made opens nothing; cancelling a run closes what it waited for', async () => {
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.taskId === 't1') throw new ModelError('permanent', 'no');
        return 'ok';
      },
      latencyMs: (call) => (call.purpose === 'work' && call.taskId === 't2' ? 60_000 : 0),
    });
    const { orchestrator, pushes } = await open(provider, { execution: { max_workers: 2 } });
    const run = await orchestrator.startRun({ tasks: tasks(2) });
    await until(orchestrator, 'the failed task', (items) => items.length === 1);
    await orchestrator.pauseRun(run.id);
    expect(open_(orchestrator).map((item) => item.type)).toEqual(['task_failed']);
    await orchestrator.cancelRun(run.id);
    await until(orchestrator, 'the item to close', (items) => items.length === 0);
    expect(orchestrator.listInbox({ all: true }).items[0]!.closed?.why).toBe(`run ${run.id} was cancelled`);
    await eventually(() => pushed(pushes).some((p) => p.kind === 'run_cancelled'), 'the run end pushed');
    expect(pushed(pushes).map((p) => p.kind)).toEqual(['task_failed', 'run_cancelled']);
  });

  it('a removed run takes its items with it', async () => {
    const provider = createScriptedProvider({
      work: () => {
        throw new ModelError('permanent', 'no');
      },
    });
    const { orchestrator } = await open(provider);
    const run = await orchestrator.startRun({ tasks: tasks(1) });
    await orchestrator.waitForRun(run.id);
    await until(orchestrator, 'the failed task', (items) => items.length === 1);
    await orchestrator.removeRun(run.id);
    expect(orchestrator.listInbox({ all: true }).items).toEqual([]);
  });
});
