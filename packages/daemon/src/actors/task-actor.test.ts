import { ZERO_USAGE } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import type { TaskRecord, TaskStatus } from '@orc/shared';
import { FlatMachine } from './flat-machine.js';
import { TaskActor } from './task-actor.js';
import { taskMachine } from './task.machine.js';

const AT = '2026-11-30T10:00:00.000Z';
const FRESH: Omit<TaskRecord, 'status'> = {
  id: 't1',
  title: 'Write it',
  description: '',
  dependencies: [],
  priority: 'medium',
  attempts: [],
  reworks: 0,
};

describe('TaskActor', () => {
  const logic = taskMachine.provide({ guards: { canRework: () => true, mergesWork: () => false } });
  const actorIn = (status: TaskStatus, machine = logic) =>
    new TaskActor(new FlatMachine(machine), { ...FRESH, status });

  it('takes each event through its machine, and leaves the same snapshot for one its state refuses', () => {
    const actor = actorIn('ready');
    const ready = actor.getSnapshot();
    expect(actor.send({ type: 'task.retry' })).toBe(ready);
    const running = actor.send({ type: 'task.assign', worker: 2, at: AT });
    expect(running).toMatchObject({ status: 'running', worker: 2, startedAt: AT });
    actor.send({
      type: 'task.attempt_began',
      attempt: { n: 1, worker: 2, startedAt: AT, outcome: 'running', usage: ZERO_USAGE, costUsd: 0 },
    });
    actor.send({ type: 'task.answered', n: 1, change: { outcome: 'succeeded', output: 'it', endedAt: AT } });
    const done = actor.send({
      type: 'task.reviewed',
      review: { verdict: 'accept', feedback: 'ok' },
      charge: { usage: ZERO_USAGE, costUsd: 0.1 },
      at: AT,
    });
    expect(done).toMatchObject({ status: 'done', result: 'it', worker: undefined, finishedAt: AT });
    expect(actor.getSnapshot()).toBe(done);
  });

  it('throws to the sender when its run did not provide a guard, its snapshot unchanged', () => {
    const actor = actorIn('reviewing', taskMachine);
    const before = actor.getSnapshot();
    expect(() =>
      actor.send({
        type: 'task.reviewed',
        review: { verdict: 'accept', feedback: 'ok' },
        charge: { usage: ZERO_USAGE, costUsd: 0 },
        at: AT,
      }),
    ).toThrow(/mergesWork/);
    expect(actor.getSnapshot()).toBe(before);
  });
});
