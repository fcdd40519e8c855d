import { ZERO_USAGE, type Attempt, type TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import {
  assign,
  createMachine,
  emit,
  fromPromise,
  getNextSnapshot,
  setup,
  type AnyStateMachine,
  type EventObject,
} from 'xstate';
import { ModelError } from '../model/model-error.js';
import { FlatMachine } from './flat-machine.js';
import { taskMachine, type TaskContext, type TaskEvent } from './task.machine.js';
import type { WorkerRecord } from './worker-actor.js';
import {
  initialWorkerContext,
  workerMachine,
  type WorkerContext,
  type WorkerEvent,
} from './worker.machine.js';

/**
 * Every state × context × event through XState and through the FlatMachine: the same record (strictly:
 * fields set to undefined too), the same `can`, and nothing taken alike. Returns how many were taken.
 */
function compareWithXState<C extends object, E extends EventObject>(
  machine: AnyStateMachine,
  contexts: C[],
  events: E[],
): number {
  const flat = new FlatMachine<C & { status: string }, E>(machine);
  let taken = 0;
  for (const status of Object.keys(machine.root.states)) {
    for (const context of contexts) {
      for (const event of events) {
        const snapshot = machine.resolveState({ value: status, context });
        const next = getNextSnapshot(machine, snapshot, event);
        const record = { ...context, status };
        const ours = flat.transition(record, event);
        const where = `${status} + ${event.type}`;
        expect(flat.can(record, event), where).toBe(snapshot.can(event));
        if (next === snapshot) expect(ours, where).toBeUndefined();
        else {
          taken++;
          expect(ours, where).toStrictEqual({ ...(next.context as C), status: next.value as string });
          // The record it came from is left as it was.
          expect(record, where).toStrictEqual({ ...context, status });
        }
      }
    }
  }
  return taken;
}

const AT = '2026-11-30T10:00:00.000Z';
const LATER = '2026-11-30T10:05:00.000Z';
const usage = { inputTokens: 10, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 };
const running: Attempt = {
  n: 1,
  worker: 2,
  startedAt: AT,
  outcome: 'running',
  usage: ZERO_USAGE,
  costUsd: 0,
};
const answered: Attempt = { ...running, outcome: 'succeeded', output: 'the answer', endedAt: AT };

/** Every event a task takes, with the variants its machine tells apart. */
const EVENTS: TaskEvent[] = [
  { type: 'task.unblocked', at: LATER },
  { type: 'task.assign', worker: 3, at: LATER },
  { type: 'task.assign_review', worker: 4, at: LATER },
  { type: 'task.attempt_began', attempt: { ...running, n: 2 } },
  { type: 'task.attempt_changed', n: 1, change: { usage, costUsd: 0.5 } },
  {
    type: 'task.answered',
    n: 1,
    change: { outcome: 'succeeded', output: 'it', usage, costUsd: 1, endedAt: LATER },
  },
  ...(['accept', 'rework', 'fail'] as const).map((verdict): TaskEvent => ({
    type: 'task.reviewed',
    review: { verdict, feedback: `${verdict}ed` },
    charge: { usage, costUsd: 0.25 },
    at: LATER,
  })),
  { type: 'task.merged', at: LATER },
  { type: 'task.merge_conflict', feedback: 'conflicts', files: ['a.ts'], at: LATER },
  { type: 'task.verify_failed', feedback: 'tests fail', reason: 'exited 1', at: LATER },
  { type: 'task.fail', error: 'it broke', at: LATER },
  { type: 'task.interrupt', at: LATER },
  { type: 'task.hold', reason: 'held there', imported: true, at: LATER },
  { type: 'task.hold', reason: 'cannot merge', imported: false, at: LATER },
  { type: 'task.cancel', at: LATER },
  { type: 'task.skip', at: LATER },
  { type: 'task.retry' },
  { type: 'task.reset' },
  {
    type: 'task.source_changed',
    change: { status: 'done', expected: 'pending', action: 'not-started', at: LATER },
  },
  { type: 'task.touched', files: ['b.ts'] },
  { type: 'task.edit', changes: { title: 'Renamed', dependencies: ['t0'] }, waits: true },
  { type: 'task.edit', changes: { priority: 'high' }, waits: false },
  { type: 'task.unlink', removed: ['t0'] },
];

/** Contexts that tell the guards and assigns apart: no attempt, one running, one answered; reworks left or not. */
const CONTEXTS: TaskContext[] = [
  {
    id: 't1',
    title: 'Write it',
    description: 'd',
    dependencies: ['t0'],
    priority: 'medium',
    attempts: [],
    reworks: 0,
  },
  {
    id: 't1',
    title: 'Write it',
    description: 'd',
    dependencies: ['t0'],
    priority: 'medium',
    attempts: [running],
    reworks: 0,
    worker: 2,
    startedAt: AT,
    readyAt: AT,
  },
  {
    id: 't1',
    title: 'Write it',
    description: 'd',
    dependencies: [],
    priority: 'low',
    attempts: [{ ...answered, n: 1 }],
    reworks: 1,
    worker: 2,
    feedback: 'more',
    error: 'before',
    held: 'held',
  },
];

describe('FlatMachine', () => {
  for (const merges of [false, true]) {
    it(`gives what XState gives for every state, event and context of the task machine (${merges ? 'a repository run' : 'a run that only talks'})`, () => {
      const machine = taskMachine.provide({
        guards: { canRework: ({ context }) => context.reworks < 1, mergesWork: () => merges },
      });
      const taken = compareWithXState<TaskContext, TaskEvent>(machine, CONTEXTS, EVENTS);
      const compared = Object.keys(machine.root.states).length * CONTEXTS.length * EVENTS.length;
      expect(taken).toBeGreaterThan(compared / 4);
    });
  }

  it('gives what XState gives for every state, event and context of the worker machine', () => {
    const machine = workerMachine.provide({
      actions: { scheduleBackoff: assign({ backoffMs: 100, backoffUntil: 1100 }) },
    });
    const base = initialWorkerContext({ index: 1, maxRetries: 1 });
    const assignment = { taskId: 't1', maxTokens: 100 };
    const contexts: WorkerContext[] = [
      base,
      { ...base, assignment, callId: 3, phase: 'work' },
      { ...base, assignment, callId: 3, phase: 'review', text: 'the answer', retries: 1 },
      {
        ...base,
        assignment,
        callId: 3,
        lastError: { category: 'recoverable', message: 'max_tokens' },
      },
      {
        ...base,
        assignment,
        callId: 3,
        phase: 'review',
        lastError: { category: 'transient', message: '429', rateLimited: true },
      },
    ];
    const events: WorkerEvent[] = [
      { type: 'worker.assign', assignment },
      { type: 'worker.assign', assignment: { ...assignment, worked: 'from before' } },
      { type: 'worker.release' },
      { type: 'call.worked', callId: 3, output: { text: 'it' } },
      { type: 'call.worked', callId: 2, output: { text: 'stale' } },
      { type: 'call.reviewed', callId: 3, review: { verdict: 'accept', feedback: 'ok' } },
      { type: 'call.failed', callId: 3, error: new ModelError('transient', 'overloaded') },
      { type: 'call.failed', callId: 3, error: new ModelError('permanent', 'bad request') },
      { type: 'call.failed', callId: 3, error: new ModelError('transient', '429', { rateLimited: true }) },
      { type: 'worker.waited' },
    ];
    const taken = compareWithXState<WorkerContext, WorkerEvent>(machine, contexts, events);
    expect(taken).toBeGreaterThan(40);
    // The records the worker's actor keeps are these.
    const record: WorkerRecord = { ...base, status: 'idle' };
    expect(new FlatMachine<WorkerRecord, WorkerEvent>(machine).transition(record, events[0]!)).toMatchObject({
      status: 'working',
      callId: 1,
    });
  });

  it('throws what the guard throws when the run did not provide it', () => {
    const flat = new FlatMachine<TaskRecord, TaskEvent>(taskMachine);
    const event: TaskEvent = {
      type: 'task.reviewed',
      review: { verdict: 'accept', feedback: 'ok' },
      charge: { usage: ZERO_USAGE, costUsd: 0 },
      at: AT,
    };
    expect(() => flat.transition({ ...CONTEXTS[1]!, status: 'reviewing' }, event)).toThrow(
      /mergesWork was not provided/,
    );
  });

  it('refuses a machine it cannot run as XState would: nested states, invoked actors, actions other than assigns', () => {
    const nested = createMachine({
      id: 'nested',
      initial: 'a',
      states: { a: { initial: 'b', states: { b: {} } } },
    });
    expect(() => new FlatMachine(nested)).toThrow(
      /machine nested cannot run as a flat machine: state a is compound/,
    );
    const invoking = createMachine({
      id: 'invoking',
      initial: 'a',
      states: { a: { invoke: { src: fromPromise(() => Promise.resolve()) } } },
    });
    expect(() => new FlatMachine(invoking)).toThrow(/state a invokes actors/);
    const emitting = setup({ types: { emitted: {} as { type: 'said' } } }).createMachine({
      id: 'emitting',
      initial: 'a',
      states: { a: { on: { go: { target: 'b', actions: emit({ type: 'said' }) } } }, b: {} },
    });
    expect(() => new FlatMachine(emitting)).toThrow(/is not an assign/);
  });

  it('runs eventless transitions after the event, and stops a loop of them', () => {
    const looping = createMachine({
      id: 'looping',
      context: { n: 0 },
      initial: 'a',
      states: {
        a: { on: { go: 'b' } },
        b: { always: { target: 'c', actions: assign({ n: ({ context }) => context.n + 1 }) } },
        c: { always: { target: 'b' } },
      },
    });
    const flat = new FlatMachine<{ status: string; n: number }, { type: 'go' }>(looping);
    expect(() => flat.transition({ status: 'a', n: 0 }, { type: 'go' })).toThrow(
      /eventless transitions loop/,
    );
  });
});
