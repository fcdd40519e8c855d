import {
  ZERO_USAGE,
  type Attempt,
  type TaskChanges,
  type TaskRecord,
  type TaskReview,
  type TaskStatus,
} from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  awaitsReview,
  taskMachine,
  type AttemptCharge,
  type TaskContext,
  type TaskEvent,
  type TaskSnapshot,
} from './task.machine.js';

/** The task's record: the machine's context, with the state it is in as its status. */
const recordOf = (snapshot: TaskSnapshot): TaskRecord => ({
  ...snapshot.context,
  status: snapshot.value as TaskStatus,
});

const AT = '2026-11-30T10:00:00.000Z';
const LATER = '2026-11-30T10:05:00.000Z';

const FRESH: TaskContext = {
  id: 't1',
  title: 'Write it',
  description: '',
  dependencies: [],
  priority: 'medium',
  attempts: [],
  reworks: 0,
};

/** A task actor within a run that allows `maxReworks` and merges accepted work when `merges`. */
function task(options: { maxReworks?: number; merges?: boolean } = {}) {
  const actor = createActor(
    taskMachine.provide({
      guards: {
        canRework: ({ context }) => context.reworks < (options.maxReworks ?? 1),
        mergesWork: () => options.merges === true,
      },
    }),
    { input: FRESH },
  );
  actor.start();
  const send = (...events: TaskEvent[]) => {
    for (const event of events) actor.send(event);
    return actor.getSnapshot();
  };
  return { actor, send };
}

const attempt = (n: number): Attempt => ({
  n,
  worker: 0,
  startedAt: AT,
  outcome: 'running',
  usage: ZERO_USAGE,
  costUsd: 0,
});

/** One attempt from the queue to its review, succeeding with `output`. */
function worked(n: number, output: string): TaskEvent[] {
  return [
    { type: 'task.assign', worker: 3, at: AT },
    { type: 'task.attempt_began', attempt: attempt(n) },
    { type: 'task.answered', n, change: { outcome: 'succeeded', output, endedAt: AT } },
  ];
}

const review = (
  verdict: TaskReview['verdict'],
  feedback = 'notes',
  charge: AttemptCharge = { usage: ZERO_USAGE, costUsd: 0 },
): TaskEvent => ({
  type: 'task.reviewed',
  review: { verdict, feedback },
  charge,
  at: LATER,
});

describe('task machine', () => {
  it('goes pending → ready → running → reviewing → done, the accepted output becoming its result', () => {
    const { send } = task();
    expect(send({ type: 'task.unblocked', at: AT }).value).toBe('ready');
    const reviewing = send(...worked(1, 'the work'));
    expect(reviewing.value).toBe('reviewing');
    expect(reviewing.context).toMatchObject({ worker: 3, startedAt: AT, readyAt: AT });
    const done = send(review('accept'));
    expect(done.value).toBe('done');
    expect(done.context).toMatchObject({ result: 'the work', finishedAt: LATER, worker: undefined });
    // Kept once: as the result, not again as the attempt's output.
    expect(done.context.attempts[0]).toMatchObject({
      outcome: 'succeeded',
      output: undefined,
      review: { verdict: 'accept' },
    });
  });

  it('goes from the queue straight to its review when its answer is in, and keeps it once as its result', () => {
    const { actor, send } = task();
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'the work'));
    // The review was cut off (a pause, a crash): back in the queue, the answer kept.
    const queued = send({ type: 'task.interrupt', at: LATER });
    expect(queued.value).toBe('ready');
    expect(awaitsReview(recordOf(queued))).toBe(true);
    expect(send({ type: 'task.assign_review', worker: 5, at: LATER }).context).toMatchObject({ worker: 5 });
    expect(actor.getSnapshot().value).toBe('reviewing');
    const done = send(review('accept'));
    expect(done.value).toBe('done');
    expect(done.context.result).toBe('the work');
    expect(done.context.attempts).toHaveLength(1);
    expect(done.context.attempts[0]!.output).toBeUndefined();
    expect(awaitsReview(recordOf(done))).toBe(false);
  });

  it('drops an answer waiting for its review once a person changes what the task is, not its priority', () => {
    const cancelledInReview = () => {
      const t = task();
      t.send({ type: 'task.unblocked', at: AT }, ...worked(1, 'old answer'), {
        type: 'task.cancel',
        at: LATER,
      });
      return t;
    };
    const edited = (changes: TaskChanges) => {
      const { send } = cancelledInReview();
      send({ type: 'task.edit', changes, waits: false });
      return send({ type: 'task.unblocked', at: LATER });
    };
    expect(awaitsReview(recordOf(edited({ priority: 'high' })))).toBe(true);
    for (const changes of [{ title: 'New' }, { description: 'New' }, { dependencies: [] }]) {
      const queued = edited(changes);
      expect(queued.value).toBe('ready');
      expect(awaitsReview(recordOf(queued))).toBe(false);
      // The attempt stays in the history, without the answer to the old spec.
      expect(queued.context.attempts).toMatchObject([{ n: 1, outcome: 'succeeded', output: undefined }]);
    }
  });

  it('waits in merging when the run merges accepted work, and is done once it is merged', () => {
    const { send } = task({ merges: true });
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'diff'));
    expect(send(review('accept')).value).toBe('merging');
    expect(send({ type: 'task.merged', at: LATER }).value).toBe('done');
  });

  it('sends reworked work back with the feedback within the bound, and fails past it', () => {
    const { send } = task({ maxReworks: 1 });
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'first'));
    const back = send(review('rework', 'add tests'));
    expect(back.value).toBe('ready');
    expect(back.context).toMatchObject({
      reworks: 1,
      feedback: 'add tests',
      worker: undefined,
      readyAt: LATER,
    });
    send(...worked(2, 'second'));
    const failed = send(review('rework', 'still no tests'));
    expect(failed.value).toBe('failed');
    expect(failed.context.error).toBe('still not accepted after 1 rework: still no tests');
  });

  it('fails at once on a fail verdict, with the manager’s reason', () => {
    const { send } = task();
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'x'));
    expect(send(review('fail', 'wrong goal')).context.error).toBe('rejected by the manager: wrong goal');
  });

  it('goes back to the queue on a merge conflict within the bound, and waits for a person past it', () => {
    const { send } = task({ merges: true, maxReworks: 1 });
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'x'), review('accept'));
    const conflict: TaskEvent = {
      type: 'task.merge_conflict',
      feedback: 'redo on top',
      files: ['a.ts'],
      at: LATER,
    };
    const requeued = send(conflict);
    expect(requeued.value).toBe('ready');
    // Its answer no longer merges: a worker works it again rather than have it reviewed again.
    expect(awaitsReview(recordOf(requeued))).toBe(false);
    send(...worked(2, 'y'), review('accept'));
    const blocked = send(conflict);
    expect(blocked.value).toBe('blocked');
    expect(blocked.context.error).toMatch(/still conflicts after 1 rework \(a\.ts\)/);
  });

  it('goes back to its worker when the merge train verify fails, and fails past the bound', () => {
    const { send } = task({ merges: true, maxReworks: 1 });
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'x'), review('accept'));
    const failed: TaskEvent = {
      type: 'task.verify_failed',
      feedback: 'npm test failed with your change:\n1 failing',
      reason: 'exited 1: 1 failing',
      at: LATER,
    };
    const back = send(failed);
    expect(back.value).toBe('ready');
    expect(back.context).toMatchObject({
      reworks: 1,
      feedback: 'npm test failed with your change:\n1 failing',
    });
    // Its answer breaks the verify: a worker works it again rather than have it reviewed again.
    expect(awaitsReview(recordOf(back))).toBe(false);
    send(...worked(2, 'y'), review('accept'));
    const gaveUp = send(failed);
    expect(gaveUp.value).toBe('failed');
    expect(gaveUp.context.error).toBe('integration.verify still fails after 1 rework: exited 1: 1 failing');
  });

  it('marks a cut-short attempt interrupted and queues the task again', () => {
    const { send } = task();
    send({ type: 'task.unblocked', at: AT }, { type: 'task.assign', worker: 1, at: AT });
    send({ type: 'task.attempt_began', attempt: attempt(1) });
    const back = send({ type: 'task.interrupt', at: LATER });
    expect(back.value).toBe('ready');
    expect(back.context.attempts[0]).toMatchObject({ outcome: 'interrupted', endedAt: LATER });
    expect(back.context.worker).toBeUndefined();
  });

  it('keeps what an attempt and its review cost whatever the task does by the time the answers arrive', () => {
    const usage = { inputTokens: 100, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const reviewCost = { usage, costUsd: 0.5 };
    // The review's answer arrives after the task was taken back: charged, and no verdict applied.
    const { send } = task();
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'the work'), { type: 'task.interrupt', at: AT });
    const charged = send(review('accept', 'notes', reviewCost));
    expect(charged.value).toBe('ready');
    expect(charged.context.attempts[0]).toMatchObject({ usage, costUsd: 0.5 });
    expect(charged.context.attempts[0]!.review).toBeUndefined();
    // The attempt's answer arrives after the task was cancelled: its end is kept, the task stays.
    const other = task();
    other.send({ type: 'task.unblocked', at: AT }, { type: 'task.assign', worker: 1, at: AT });
    other.send({ type: 'task.attempt_began', attempt: attempt(1) }, { type: 'task.cancel', at: AT });
    const ended = other.send({ type: 'task.answered', n: 1, change: { usage, costUsd: 0.25 } });
    expect(ended.value).toBe('cancelled');
    expect(ended.context.attempts[0]).toMatchObject({ outcome: 'cancelled', usage, costUsd: 0.25 });
    // In review, the charge and the verdict land together, on the last attempt.
    const third = task();
    third.send({ type: 'task.unblocked', at: AT }, ...worked(1, 'the work'));
    const done = third.send(review('accept', 'notes', reviewCost));
    expect(done.value).toBe('done');
    expect(done.context.attempts[0]).toMatchObject({ usage, costUsd: 0.5, review: { verdict: 'accept' } });
  });

  it('lets a person retry a failed task with fresh bounds, and refuses what the state does not allow', () => {
    const { send, actor } = task({ maxReworks: 0 });
    send({ type: 'task.unblocked', at: AT }, ...worked(1, 'x'), review('rework', 'no'));
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().can({ type: 'task.assign', worker: 0, at: AT })).toBe(false);
    const retried = send({ type: 'task.retry' });
    expect(retried.value).toBe('pending');
    expect(retried.context).toMatchObject({
      error: undefined,
      reworks: 0,
      feedback: undefined,
      finishedAt: undefined,
    });
    // Its attempts stay: they are the task's history.
    expect(retried.context.attempts).toHaveLength(1);
  });

  it('holds an imported task with its reason, and a reset takes anything back to the start', () => {
    const { send } = task();
    const held = send({ type: 'task.hold', reason: 'deferred: later', imported: true, at: AT });
    expect(held.value).toBe('blocked');
    expect(held.context).toMatchObject({ held: 'deferred: later', error: 'deferred: later' });
    const reset = send({ type: 'task.reset' });
    expect(reset.value).toBe('pending');
    expect(reset.context.error).toBeUndefined();
  });

  it('throws when the run did not provide its guards', () => {
    const actor = createActor(taskMachine, { input: FRESH });
    const errors: unknown[] = [];
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    for (const event of [
      { type: 'task.unblocked', at: AT },
      ...worked(1, 'x'),
      review('accept'),
    ] as TaskEvent[])
      actor.send(event);
    expect(String(errors[0])).toMatch(/guard mergesWork was not provided/);
  });
});
