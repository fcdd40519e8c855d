import { startFakeAnthropicServer } from '@orc/test-support';
import type { OrcEvent } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsUntilEnd, FAST_SIM, Sandbox, taskSpecs, waitFor } from './harness.js';

let box: Sandbox;

afterEach(async () => {
  await box.cleanup();
});

function expectMonotonic(events: OrcEvent[]): void {
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
}

describe('runs through the typed client against the real daemon', () => {
  it('runs to completion, simulated and said so', async () => {
    box = await Sandbox.create();
    await box.startDaemon();
    const client = await box.client();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(4), config: FAST_SIM });
    expect(run.models.simulated).toBe(true);
    const events = await eventsUntilEnd(client, run.id);
    expect(events.at(-1)?.type).toBe('run.completed');
    const view = await client.trpc.runs.get.query({ runId: run.id });
    expect(view.status).toBe('completed');
    expect(view.tasks.every((task) => task.status === 'done')).toBe(true);
    expectMonotonic(events);
  });

  it('detach/reattach: a dropped socket resumes with lastEventId; the union of events is the log, in order', async () => {
    box = await Sandbox.create();
    await box.startDaemon();
    const client = await box.client();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(6), config: FAST_SIM });
    const seen: OrcEvent[] = [];
    let drops = 0;
    await new Promise<void>((resolve, reject) => {
      const sub = client.trpc.runs.events.subscribe(
        { runId: run.id },
        {
          onData: ({ data }) => {
            seen.push(data);
            if ((seen.length === 4 || seen.length === 15) && drops < 2) {
              drops++;
              client.dropConnection();
            }
            if (data.type === 'run.completed') {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    expect(drops).toBe(2);
    // A second, separate subscriber that detached after event 10 and came back later.
    const reader = await box.client();
    const log = await eventsUntilEnd(reader, run.id);
    const firstPart = log.slice(0, 10);
    const rest = await eventsUntilEnd(reader, run.id, 10);
    expect([...firstPart, ...rest].map((e) => e.id)).toEqual(log.map((e) => e.id));
    expect(seen.map((e) => e.id)).toEqual(log.map((e) => e.id));
    expectMonotonic(log);
  });

  it('survives kill -9 mid-run: restarted, the run completes, no finished task runs twice, ids stay monotonic', async () => {
    box = await Sandbox.create();
    const first = await box.startDaemon();
    let client = await box.client();
    const slow = {
      ...FAST_SIM,
      simulated: { latency_ms: { min: 80, max: 150 } },
      execution: { max_workers: 2 },
    };
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(8), config: slow });
    await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return view.tasks.filter((t) => t.status === 'done').length >= 2 ? true : undefined;
    });
    process.kill(first.pid, 'SIGKILL');
    await client.close();
    await box.startDaemon();
    client = await box.client();
    const events = await eventsUntilEnd(client, run.id);
    expect(events.at(-1)?.type).toBe('run.completed');
    expectMonotonic(events);
    const restoredAt = events.findIndex((e) => e.type === 'run.restored');
    expect(restoredAt).toBeGreaterThan(0);
    const doneBefore = new Set(
      events.slice(0, restoredAt).flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : [])),
    );
    expect(doneBefore.size).toBeGreaterThanOrEqual(2);
    const assignedAfter = events
      .slice(restoredAt)
      .flatMap((e) => (e.type === 'task.assigned' ? [e.taskId] : []));
    expect(assignedAfter.filter((id) => doneBefore.has(id))).toEqual([]);
    const completions = events.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : []));
    expect(new Set(completions).size).toBe(completions.length);
  });

  it('checkpoint, rollback with each strategy, resume, finish', async () => {
    box = await Sandbox.create();
    await box.startDaemon();
    const client = await box.client();
    const run = await client.trpc.runs.start.mutate({ tasks: taskSpecs(4, true), config: FAST_SIM });
    await waitFor(async () => {
      const view = await client.trpc.runs.get.query({ runId: run.id });
      return (view.taskCounts['done'] ?? 0) >= 1 ? true : undefined;
    });
    const checkpoint = await client.trpc.checkpoints.create.mutate({ runId: run.id, label: 'early' });
    expect((await client.trpc.checkpoints.list.query({ runId: run.id })).map((c) => c.id)).toContain(
      checkpoint.id,
    );
    await eventsUntilEnd(client, run.id);
    for (const [strategy, tasks] of [['full'], ['partial'], ['selective', ['t3']]] as const) {
      const before = await client.trpc.runs.get.query({ runId: run.id });
      const rolled = await client.trpc.checkpoints.rollback.mutate({
        runId: run.id,
        checkpointId: checkpoint.id,
        strategy,
        ...(tasks ? { tasks: [...tasks] } : {}),
      });
      // A rollback that resets nothing (partial, here) leaves the finished run as it was.
      expect(rolled.status).toBe(strategy === 'partial' ? 'completed' : 'paused');
      const view = await client.trpc.runs.get.query({ runId: run.id });
      // full: back to the checkpoint; partial: the checkpoint, keeping results whose inputs did not change
      // (here: all of them); selective: the named task and everything downstream.
      const notDone = view.tasks.filter((t) => t.status !== 'done').map((t) => t.id);
      const expected = {
        full: expect.arrayContaining(['t4']) as unknown,
        partial: [],
        selective: ['t3', 't4'],
      }[strategy];
      expect({ strategy, notDone }).toEqual({ strategy, notDone: expected });
      if (strategy === 'selective') expect(view.tasks.find((t) => t.id === 't1')?.status).toBe('done');
      if (strategy === 'partial') {
        expect(rolled.rollback).toMatchObject({ reset: [], kept: ['t1', 't2', 't3', 't4'] });
        continue;
      }
      await client.trpc.runs.resume.mutate({ runId: run.id });
      const events = await eventsUntilEnd(client, run.id, before.lastEventId);
      expect(events.some((e) => e.type === 'run.rolled_back' && e.strategy === strategy)).toBe(true);
      const after = await client.trpc.runs.get.query({ runId: run.id });
      expect(after.status).toBe('completed');
      expect(after.tasks.every((t) => t.status === 'done')).toBe(true);
    }
  });

  it('two runs at once share the machine-wide cap on model calls', async () => {
    // Counted where it matters: at an Anthropic-compatible server the daemon calls through the real SDK.
    const server = await startFakeAnthropicServer({ latencyMs: 80 });
    try {
      box = await Sandbox.create();
      await box.startDaemon({
        ORC_MACHINE_MAX_IN_FLIGHT: '2',
        ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef',
      });
      const client = await box.client();
      const config = {
        models: { provider: 'anthropic' as const, base_url: server.url },
        execution: { max_workers: 4 },
      };
      const runs = await Promise.all(
        [0, 1].map(() => client.trpc.runs.start.mutate({ tasks: taskSpecs(6), config })),
      );
      const logs = await Promise.all(runs.map((r) => eventsUntilEnd(client, r.id)));
      for (const log of logs) expect(log.at(-1)!.type).toBe('run.completed');
      // Eight workers between the two runs, two calls at a time at the server.
      expect(server.maxInFlight).toBe(2);
      // Both runs made progress side by side rather than one after the other.
      const firstDone = (log: OrcEvent[]) => Date.parse(log.find((e) => e.type === 'task.completed')!.at);
      const finished = (log: OrcEvent[]) => Date.parse(log.at(-1)!.at);
      expect(firstDone(logs[1]!)).toBeLessThan(finished(logs[0]!));
      expect(firstDone(logs[0]!)).toBeLessThan(finished(logs[1]!));
    } finally {
      await server.close();
    }
  });
});
