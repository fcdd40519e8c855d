import type { TaskReview } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../model/model-error.js';
import { ManualClock } from '@orc/test-support';
import { seededRandom } from '../model/seeded-random.js';
import { FlatMachine } from './flat-machine.js';
import { WorkerActor, type WorkerActorDeps, type WorkerRecord } from './worker-actor.js';
import {
  scheduleBackoffOn,
  workerMachine,
  type WorkInput,
  type WorkerEmitted,
  type WorkerEvent,
} from './worker.machine.js';

/** The worker machine with the run's backoff, as a run's workers run it. */
function logicOn(clock: ManualClock, retryBaseMs: number) {
  return new FlatMachine<WorkerRecord, WorkerEvent>(
    workerMachine.provide({
      actions: { scheduleBackoff: scheduleBackoffOn(clock, seededRandom(7), retryBaseMs) },
    }),
  );
}

/** Resolves once `done` holds, letting the calls' promises run meanwhile; fails after 2 s. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('the worker did not get there within 2 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

type Step = { fail: ModelError | Error } | { text: string };

/**
 * A worker whose work and review calls follow a script; waits resolve at once but record the deadline,
 * so the backoff a real worker would sleep is visible without sleeping.
 */
function startWorker(
  work: Step[],
  options: { maxRetries?: number; review?: Step[]; retryBaseMs?: number; worked?: string } = {},
) {
  const clock = new ManualClock(0);
  const workInputs: WorkInput[] = [];
  const waits: number[] = [];
  const emitted: WorkerEmitted[] = [];
  const reviews = options.review ?? [{ text: 'accept' }];
  let reviewCalls = 0;
  const reviewed: string[] = [];
  const deps: WorkerActorDeps = {
    logic: logicOn(clock, options.retryBaseMs ?? 100),
    calls: {
      work: (input) => {
        workInputs.push(input);
        const step = work[workInputs.length - 1] ?? { text: 'more work than scripted' };
        return 'fail' in step ? Promise.reject(step.fail) : Promise.resolve({ text: step.text });
      },
      review: (input) => {
        reviewed.push(input.text);
        const step = reviews[reviewCalls++] ?? { text: 'accept' };
        const review: TaskReview = { verdict: 'accept', feedback: 'fine' };
        return 'fail' in step ? Promise.reject(step.fail) : Promise.resolve(review);
      },
    },
    waitUntil: (at) => {
      waits.push(at - clock.now());
      return Promise.resolve();
    },
    onEvent: (event) => emitted.push(event),
  };
  const actor = new WorkerActor(deps, { index: 2, maxRetries: options.maxRetries ?? 3 });
  actor.send({
    type: 'worker.assign',
    assignment: {
      taskId: 't7',
      maxTokens: 1000,
      ...(options.worked !== undefined && { worked: options.worked }),
    },
  });
  const idle = () => until(() => actor.getSnapshot().status === 'idle' && emitted.some(isFinal));
  return { actor, workInputs, waits, emitted, idle, reviewed, reviewCalls: () => reviewCalls };
}

const isFinal = (e: WorkerEmitted) => e.type === 'worker.reviewed' || e.type === 'worker.gave_up';
const types = (emitted: WorkerEmitted[]) => emitted.map((e) => e.type);

describe('worker machine', () => {
  it('waits out rate limits without using up the retries a failing task gets', async () => {
    const limited = () =>
      new ModelError('transient', 'rate limited (429)', { rateLimited: true, retryAfterMs: 1000 });
    const w = startWorker(
      [
        { fail: limited() },
        { fail: limited() },
        { fail: limited() },
        { fail: new ModelError('transient', 'server error (500)') },
        { text: 'the answer' },
      ],
      { maxRetries: 1 },
    );
    await w.idle();
    // Three 429s and one 500 with only one retry allowed: the 429s did not count.
    expect(w.workInputs).toHaveLength(5);
    expect(types(w.emitted).filter((t) => t === 'worker.rate_limited')).toHaveLength(3);
    expect(w.emitted.at(-1)?.type).toBe('worker.reviewed');
    // retry-after is honoured.
    expect(w.waits.slice(0, 3).every((ms) => ms >= 1000)).toBe(true);
  });

  it('retries transient failures with exponential backoff, then succeeds and is reviewed', async () => {
    const w = startWorker([
      { fail: new ModelError('transient', 'overloaded (529)') },
      { fail: new ModelError('transient', 'server error (500)') },
      { text: 'the answer' },
    ]);
    await w.idle();
    expect(w.workInputs).toHaveLength(3);
    expect(types(w.emitted)).toEqual([
      'worker.attempt_failed',
      'worker.attempt_failed',
      'worker.work_done',
      'worker.reviewed',
    ]);
    // Full jitter over base·2^retry: the first wait in [50, 100], the second in [100, 200].
    expect(w.waits[0]).toBeGreaterThanOrEqual(50);
    expect(w.waits[0]).toBeLessThanOrEqual(100);
    expect(w.waits[1]).toBeGreaterThanOrEqual(100);
    expect(w.waits[1]).toBeLessThanOrEqual(200);
    const failed = w.emitted.filter((e) => e.type === 'worker.attempt_failed');
    expect(failed.map((e) => e.retryInMs)).toEqual(w.waits);
    expect(failed[0]).toMatchObject({
      worker: 2,
      taskId: 't7',
      phase: 'work',
      error: { category: 'transient' },
    });
    expect(w.emitted.at(-1)).toMatchObject({
      type: 'worker.reviewed',
      taskId: 't7',
      review: { verdict: 'accept' },
    });
    // Same tokens each time: only recoverable failures get more room.
    expect(w.workInputs.map((i) => i.maxTokens)).toEqual([1000, 1000, 1000]);
  });

  it('honours retry-after and tells the run it was rate limited', async () => {
    const w = startWorker([
      { fail: new ModelError('transient', 'rate limited (429)', { retryAfterMs: 3000, rateLimited: true }) },
      { text: 'ok' },
    ]);
    await w.idle();
    expect(w.waits[0]).toBeGreaterThanOrEqual(3000);
    expect(w.waits[0]).toBeLessThanOrEqual(3300);
    expect(types(w.emitted).slice(0, 2)).toEqual(['worker.rate_limited', 'worker.attempt_failed']);
  });

  it('gives up at once on a permanent error', async () => {
    const w = startWorker([{ fail: new ModelError('permanent', 'invalid request (400): prompt too long') }]);
    await w.idle();
    expect(w.workInputs).toHaveLength(1);
    expect(w.waits).toEqual([]);
    expect(w.emitted).toEqual([
      {
        type: 'worker.gave_up',
        worker: 2,
        taskId: 't7',
        phase: 'work',
        error: { category: 'permanent', message: 'invalid request (400): prompt too long' },
        pauseRun: false,
        cancelled: false,
      },
    ]);
    expect(w.actor.getSnapshot().assignment).toBeUndefined();
  });

  it('asks the run to pause when only a person can fix the error', async () => {
    const w = startWorker(
      [new ModelError('permanent', 'usage limit reached', { pauseRun: true })].map((fail) => ({ fail })),
    );
    await w.idle();
    expect(w.emitted).toEqual([expect.objectContaining({ type: 'worker.gave_up', pauseRun: true })]);
  });

  it('does not retry a transient error that pauses the run (its backend is gone): the run waits instead', async () => {
    const lost = new ModelError('transient', 'Redis at redis://127.0.0.1:6379 cannot be reached', {
      pauseRun: true,
      pauseReason: 'backend',
    });
    const w = startWorker([{ fail: lost }, { fail: lost }]);
    await w.idle();
    expect(w.workInputs).toHaveLength(1);
    expect(w.emitted).toEqual([
      expect.objectContaining({ type: 'worker.gave_up', pauseRun: true, pauseReason: 'backend' }),
    ]);
  });

  it('treats an unknown error as permanent', async () => {
    const w = startWorker([{ fail: new TypeError('cannot read properties of undefined') }]);
    await w.idle();
    expect(w.emitted.at(-1)).toMatchObject({ type: 'worker.gave_up', error: { category: 'permanent' } });
  });

  it('doubles maxTokens after a recoverable failure', async () => {
    const w = startWorker([
      { fail: new ModelError('recoverable', 'the answer hit max_tokens (1000)') },
      { fail: new ModelError('recoverable', 'the answer hit max_tokens (2000)') },
      { text: 'long answer' },
    ]);
    await w.idle();
    expect(w.workInputs.map((i) => i.maxTokens)).toEqual([1000, 2000, 4000]);
    expect(w.emitted.at(-1)?.type).toBe('worker.reviewed');
  });

  it('gives up after maxRetries retries', async () => {
    const overloaded = { fail: new ModelError('transient', 'overloaded') };
    const w = startWorker([overloaded, overloaded, overloaded], { maxRetries: 2 });
    await w.idle();
    expect(w.workInputs).toHaveLength(3);
    expect(types(w.emitted)).toEqual(['worker.attempt_failed', 'worker.attempt_failed', 'worker.gave_up']);
  });

  it('starts at the review when handed an answer that is in already, and never calls the work', async () => {
    const w = startWorker([], { worked: 'the answer from before the crash' });
    await w.idle();
    expect(w.workInputs).toEqual([]);
    expect(w.reviewed).toEqual(['the answer from before the crash']);
    expect(types(w.emitted)).toEqual(['worker.reviewed']);
  });

  it('retries a failed review without redoing the work', async () => {
    const w = startWorker([{ text: 'done' }], {
      review: [{ fail: new ModelError('transient', 'overloaded') }, { text: 'accept' }],
    });
    await w.idle();
    expect(w.workInputs).toHaveLength(1);
    expect(w.reviewCalls()).toBe(2);
    const failed = w.emitted.find((e) => e.type === 'worker.attempt_failed');
    expect(failed).toMatchObject({ phase: 'review' });
  });

  it('drops its task on release, ignores the late answer of the dropped call, and takes the next one', async () => {
    const clock = new ManualClock(0);
    let aborted = 0;
    const emitted: WorkerEmitted[] = [];
    const signals: AbortSignal[] = [];
    const actor = new WorkerActor(
      {
        logic: logicOn(clock, 100),
        calls: {
          work: (_input, signal) => {
            signals.push(signal);
            return new Promise<{ text: string }>((_, reject) =>
              signal.addEventListener('abort', () => {
                aborted++;
                reject(new ModelError('transient', 'aborted'));
              }),
            );
          },
          review: () => Promise.reject(new Error('no review in this test')),
        },
        waitUntil: () => Promise.resolve(),
        onEvent: (e) => emitted.push(e),
      },
      { index: 0, maxRetries: 1 },
    );
    actor.send({ type: 'worker.assign', assignment: { taskId: 'x', maxTokens: 10 } });
    expect(actor.getSnapshot().status).toBe('working');
    actor.send({ type: 'worker.release' });
    expect(actor.getSnapshot().status).toBe('idle');
    expect(aborted).toBe(1);
    actor.send({ type: 'worker.assign', assignment: { taskId: 'y', maxTokens: 10 } });
    // The aborted call's failure arrives now, while the worker works on y: it is not y's failure.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(emitted).toEqual([]);
    expect(actor.getSnapshot().status).toBe('working');
    expect(actor.getSnapshot().assignment?.taskId).toBe('y');
    // The call for y is not born aborted: the released call's signal is not reused.
    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
    // Stopping the worker aborts the call in flight.
    actor.stop();
    expect(aborted).toBe(2);
  });

  it('takes what its run sends while it tells of a move once that move is over (a mailbox, as XState)', async () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    const inputs: string[] = [];
    const actor: WorkerActor = new WorkerActor(
      {
        logic: logicOn(clock, 100),
        calls: {
          work: (input) => {
            inputs.push(input.taskId);
            return Promise.resolve({ text: `did ${input.taskId}` });
          },
          review: () => Promise.resolve({ verdict: 'accept', feedback: 'ok' }),
        },
        waitUntil: () => Promise.resolve(),
        onEvent: (event) => {
          seen.push(`${event.type} in ${actor.getSnapshot().status}`);
          // The run hands the free worker its next task as it hears of the review.
          if (event.type === 'worker.reviewed' && inputs.length < 2)
            actor.send({ type: 'worker.assign', assignment: { taskId: 'b', maxTokens: 10 } });
        },
      },
      { index: 0, maxRetries: 1 },
    );
    actor.send({ type: 'worker.assign', assignment: { taskId: 'a', maxTokens: 10 } });
    await until(() => seen.length === 4);
    expect(seen).toEqual([
      'worker.work_done in reviewing',
      'worker.reviewed in idle',
      'worker.work_done in reviewing',
      'worker.reviewed in idle',
    ]);
    expect(inputs).toEqual(['a', 'b']);
  });
});
