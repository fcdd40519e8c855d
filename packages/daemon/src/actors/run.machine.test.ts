import type { FinalReview, Plan, PauseReason, RunStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { assign, createActor, fromPromise, waitFor } from 'xstate';
import { managerMachine, type PlanRequestInput, type PlanResult } from './manager.machine.js';
import {
  pauseReasonOf,
  runMachine,
  runStatusOf,
  type RollbackPlan,
  type RollbackRequest,
} from './run.machine.js';

const PLAN: Plan = {
  summary: 'One task.',
  tasks: [{ id: 'a', title: 'A', description: '', dependencies: [], priority: 'medium' }],
};
const REVIEW: FinalReview = { verdict: 'success', summary: 'All good.', followUps: [] };
const NO_ROLLBACK: RollbackPlan = { tasks: [], reset: [], kept: [], planSummary: undefined };

interface Options {
  plan?: string;
  allDone?: boolean;
  finalReview?: () => Promise<FinalReview>;
  rollback?: (request: RollbackRequest) => Promise<RollbackPlan>;
  /** The wait for a quota's reset. */
  quotaReset?: (until: number | undefined) => Promise<void>;
  /** The wait for a disk that takes writes again. */
  probeStorage?: () => Promise<void>;
  /** The settling before the final review. */
  settle?: () => Promise<void>;
  /** `execution.approve_plan`: the plan waits for a person. */
  approve?: boolean;
  /** Called with the feedback of each planning. */
  onPlan?: (feedback: string | undefined) => void;
}

/** A run machine whose actions record what they were asked to do, and whose actors are scripted. */
function machineFor(options: Options = {}) {
  const log = {
    applied: [] as PlanResult[],
    stored: [] as { review?: FinalReview; error?: unknown }[],
    announced: [] as { status: RunStatus; reason?: PauseReason; message?: string }[],
    started: 0,
    cancelled: 0,
    finished: 0,
    drained: 0,
    probes: 0,
    /** What the rollback actions were asked, in order. */
    rollbacks: [] as string[],
  };
  const machine = runMachine.provide({
    actors: {
      manager: managerMachine.provide({
        actors: {
          requestPlan: fromPromise(({ input }: { input: PlanRequestInput }) => {
            options.onPlan?.(input.feedback);
            return Promise.resolve(options.plan ?? JSON.stringify(PLAN));
          }),
          waitUntil: fromPromise(() => Promise.resolve()),
        },
        actions: {
          announcePlanning: () => {},
          announceRejected: () => {},
          scheduleBackoff: assign({ backoffUntil: 0 }),
        },
      }),
      settle: fromPromise(options.settle ?? (() => Promise.resolve())),
      finalReview: fromPromise(options.finalReview ?? (() => Promise.resolve(REVIEW))),
      rollback: fromPromise(({ input }: { input: RollbackRequest }) =>
        (options.rollback ?? (() => Promise.resolve(NO_ROLLBACK)))(input),
      ),
      quotaReset: fromPromise(({ input }: { input: { until: number | undefined } }) =>
        (options.quotaReset ?? (() => new Promise<void>(() => {})))(input.until),
      ),
      probeStorage: fromPromise(() => {
        log.probes++;
        return (options.probeStorage ?? (() => new Promise<void>(() => {})))();
      }),
      drain: fromPromise(() => {
        log.drained++;
        return Promise.resolve();
      }),
    },
    actions: {
      announce: (_, params) => log.announced.push(params),
      applyPlan: (_, { result }) => log.applied.push(result),
      beginRollback: ({ context }) => log.rollbacks.push(`begin ${context.rollback?.checkpointId}`),
      commitRollback: ({ context }, { plan }) =>
        log.rollbacks.push(`commit ${context.rollback?.checkpointId} reset ${plan.reset.join(',')}`),
      rollbackFailed: ({ context }, { error }) =>
        log.rollbacks.push(`failed ${context.rollback?.checkpointId}: ${(error as Error).message}`),
      storeFinalReview: (_, params) => log.stored.push(params),
      startWork: () => log.started++,
      cancelWork: () => log.cancelled++,
      finish: () => log.finished++,
    },
    guards: { allTasksDone: () => options.allDone ?? true, approvalRequired: () => options.approve ?? false },
  });
  return { machine, log };
}

const INPUT = { runId: 'r1', goal: 'g', imported: undefined, maxRepairs: 2, maxRetries: 0 };

function startRun(options: Options = {}) {
  const { machine, log } = machineFor(options);
  const actor = createActor(machine, { input: INPUT });
  actor.start();
  return { actor, log };
}

describe('run machine', () => {
  it('goes analyzing → executing → paused → executing → settling → reviewing → completed', async () => {
    const { actor, log } = startRun();
    expect(actor.getSnapshot().value).toBe('analyzing');
    await waitFor(actor, (s) => s.matches('executing'));
    expect(log.applied).toEqual([{ ok: true, plan: PLAN }]);
    expect(log.started).toBe(1);
    actor.send({ type: 'run.pause' });
    expect(actor.getSnapshot().value).toEqual({ paused: 'user' });
    actor.send({ type: 'run.settled' }); // nothing settles while paused
    expect(actor.getSnapshot().value).toEqual({ paused: 'user' });
    actor.send({ type: 'run.resume' });
    actor.send({ type: 'run.settled' });
    expect(runStatusOf(actor.getSnapshot())).toBe('reviewing');
    await waitFor(actor, (s) => s.matches('completed'));
    expect(log.stored).toEqual([{ review: REVIEW }]);
    expect(log.finished).toBe(1);
    expect(log.announced.map((a) => a.status)).toEqual([
      'executing',
      'paused',
      'executing',
      'reviewing',
      'completed',
    ]);
  });

  it('pauses for each reason in a state of its own, with the message a person reads', () => {
    const { actor, log } = startRun({ plan: JSON.stringify(PLAN) });
    return waitFor(actor, (s) => s.matches('executing')).then(() => {
      actor.send({ type: 'run.budget_reached', message: 'spent $2 of $2' });
      expect(pauseReasonOf(actor.getSnapshot())).toBe('budget');
      expect(log.announced.at(-1)).toEqual({ status: 'paused', reason: 'budget', message: 'spent $2 of $2' });
      actor.send({ type: 'run.resume' });
      actor.send({ type: 'run.provider_refused', message: 'invalid key' });
      expect(pauseReasonOf(actor.getSnapshot())).toBe('provider');
      actor.send({ type: 'run.storage_failed', message: 'ENOSPC' });
      expect(pauseReasonOf(actor.getSnapshot())).toBe('storage');
      expect(runStatusOf(actor.getSnapshot())).toBe('paused');
      actor.send({ type: 'run.resume' });
      actor.send({ type: 'run.verify_broken', message: 'integration.verify cannot run (exited 127)' });
      expect(pauseReasonOf(actor.getSnapshot())).toBe('verify');
      expect(log.announced.at(-1)).toEqual({
        status: 'paused',
        reason: 'verify',
        message: 'integration.verify cannot run (exited 127)',
      });
      actor.send({ type: 'run.resume' });
      expect(actor.getSnapshot().matches('executing')).toBe(true);
    });
  });

  it('waits for its disk from executing, settling or the final review, and goes on once the probe finds it back', async () => {
    let diskBack!: () => void;
    const { machine, log } = machineFor({
      probeStorage: () => new Promise<void>((resolve) => (diskBack = resolve)),
      // Settling waits for the journal, which waits for the disk.
      settle: () => new Promise<void>(() => {}),
    });
    const actor = createActor(machine, { input: INPUT }).start();
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.settled' });
    expect(actor.getSnapshot().value).toBe('settling');
    actor.send({ type: 'run.storage_failed', message: 'cannot write events.jsonl: ENOSPC' });
    expect(actor.getSnapshot().value).toEqual({ paused: 'storage' });
    expect(log.announced.at(-1)).toEqual({
      status: 'paused',
      reason: 'storage',
      message: 'cannot write events.jsonl: ENOSPC',
    });
    // Another run's failed write while it waits: the same probe goes on.
    actor.send({ type: 'run.storage_failed', message: 'cannot write state.json: ENOSPC' });
    expect(log.probes).toBe(1);
    expect(actor.getSnapshot().context.pause?.message).toBe('cannot write state.json: ENOSPC');
    const started = log.started;
    diskBack();
    await waitFor(actor, (s) => s.matches('executing'));
    expect(log.started).toBe(started + 1);
    actor.stop();
  });

  it('waits out a quota pause and goes on by itself at the given time', async () => {
    const waits: (number | undefined)[] = [];
    const { actor } = startRun({
      quotaReset: (until) => {
        waits.push(until);
        return until === undefined ? new Promise<void>(() => {}) : Promise.resolve();
      },
    });
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.quota_wait', until: 1_800_000, message: 'resets at 10:30' });
    await waitFor(actor, (s) => s.matches('executing'));
    expect(waits).toEqual([1_800_000]);
    // Without a known reset, the run waits for a person.
    actor.send({ type: 'run.quota_wait', message: 'usage limit reached' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pauseReasonOf(actor.getSnapshot())).toBe('quota');
    expect(waits).toEqual([1_800_000, undefined]);
    actor.send({ type: 'run.resume' });
    expect(actor.getSnapshot().value).toBe('executing');
  });

  it('rolls back in a state of its own, then waits for a person; a failed rollback does too', async () => {
    const requests: RollbackRequest[] = [];
    let fail = false;
    const { actor, log } = startRun({
      rollback: (request) => {
        requests.push(request);
        return fail
          ? Promise.reject(new Error('revert conflicts'))
          : Promise.resolve({ ...NO_ROLLBACK, reset: ['a'] });
      },
    });
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.rollback', checkpointId: 'cp1', strategy: 'full', tasks: undefined });
    expect(actor.getSnapshot().value).toBe('rollingBack');
    // A person cannot resume or cancel a run in the middle of its rollback.
    actor.send({ type: 'run.resume' });
    actor.send({ type: 'run.cancel' });
    expect(actor.getSnapshot().value).toBe('rollingBack');
    await waitFor(actor, (s) => s.matches({ paused: 'rollback' }));
    expect(actor.getSnapshot().context.rollback).toBeUndefined();
    expect(actor.getSnapshot().context.pause?.message).toBe('rolled back to cp1; orc resume goes on');
    fail = true;
    actor.send({ type: 'run.rollback', checkpointId: 'cp2', strategy: 'selective', tasks: ['a'] });
    await waitFor(actor, (s) => s.matches({ paused: 'rollback' }));
    expect(actor.getSnapshot().context.pause?.message).toMatch(/^the rollback to cp2 failed/);
    expect(requests.map((r) => r.checkpointId)).toEqual(['cp1', 'cp2']);
    // Begun (journalled) as it is asked for; taken in only as it leaves rollingBack, or told it failed.
    expect(log.rollbacks).toEqual([
      'begin cp1',
      'commit cp1 reset a',
      'begin cp2',
      'failed cp2: revert conflicts',
    ]);
  });

  it('fails with the planning error when no valid plan comes', async () => {
    const { actor, log } = startRun({ plan: 'nonsense' });
    await waitFor(actor, (s) => s.matches('failed'));
    expect(log.applied).toEqual([]);
    expect(actor.getSnapshot().context.error).toMatch(/the plan is not valid JSON/);
  });

  it('fails when tasks are left undone, and completes even if the final review errors', async () => {
    const failing = startRun({ allDone: false });
    await waitFor(failing.actor, (s) => s.matches('executing'));
    failing.actor.send({ type: 'run.settled' });
    await waitFor(failing.actor, (s) => s.matches('failed'));

    const noReview = startRun({ finalReview: () => Promise.reject(new Error('manager down')) });
    await waitFor(noReview.actor, (s) => s.matches('executing'));
    noReview.actor.send({ type: 'run.settled' });
    await waitFor(noReview.actor, (s) => s.matches('completed'));
    expect(String(noReview.log.stored[0]?.error)).toMatch(/manager down/);
  });

  it('cancels from any phase for good, and reopens a finished run to execute again', async () => {
    const analyzing = startRun();
    analyzing.actor.send({ type: 'run.cancel' });
    expect(analyzing.actor.getSnapshot().value).toBe('cancelled');
    expect(analyzing.actor.getSnapshot().status).toBe('done');
    expect(analyzing.log.cancelled).toBe(1);

    const { actor, log } = startRun();
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.settled' });
    await waitFor(actor, (s) => s.matches('completed'));
    actor.send({ type: 'run.reopen' });
    expect(actor.getSnapshot().value).toBe('executing');
    expect(log.started).toBe(2);
    actor.send({ type: 'run.cancel' });
    expect(actor.getSnapshot().value).toBe('cancelled');
  });

  it('closes from any state by draining, and restores a persisted snapshot in the state it was saved in', async () => {
    const { actor, log } = startRun();
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.budget_reached', message: 'spent it' });
    const saved = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as unknown;
    actor.send({ type: 'run.close' });
    await waitFor(actor, (s) => s.status === 'done');
    expect(log.drained).toBe(1);

    const { machine, log: restoredLog } = machineFor();
    const restored = createActor(machine, { input: INPUT, snapshot: saved as never });
    restored.start();
    expect(restored.getSnapshot().value).toEqual({ paused: 'budget' });
    expect(restored.getSnapshot().context.pause).toEqual({ message: 'spent it' });
    // Entry actions are not run again on restore: nothing is announced twice.
    expect(restoredLog.announced).toEqual([]);
    restored.send({ type: 'run.resume' });
    expect(restored.getSnapshot().value).toBe('executing');
    restored.stop();
  });

  it('throws when an action it needs was not provided', () => {
    const actor = createActor(runMachine, { input: { ...INPUT, imported: PLAN.tasks } });
    const errors: unknown[] = [];
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    expect(String(errors[0])).toMatch(/not provided/);
  });

  describe('with execution.approve_plan', () => {
    it('waits after planning, dispatching nothing, until a person approves; the wait is a state that is persisted', async () => {
      const { machine, log } = machineFor({ approve: true });
      const actor = createActor(machine, { input: INPUT });
      actor.start();
      await waitFor(actor, (s) => s.matches('awaitingApproval'));
      expect(runStatusOf(actor.getSnapshot())).toBe('awaiting_approval');
      expect(log.applied).toHaveLength(1);
      expect(log.started).toBe(0);
      actor.send({ type: 'run.settled' }); // nothing runs, nothing settles
      expect(actor.getSnapshot().value).toBe('awaitingApproval');

      // A daemon restart: the persisted snapshot comes back waiting, and nothing starts by itself.
      const persisted = actor.getPersistedSnapshot();
      actor.stop();
      const restored = createActor(machine, { input: INPUT, snapshot: persisted });
      restored.start();
      expect(restored.getSnapshot().value).toBe('awaitingApproval');
      expect(log.started).toBe(0);
      restored.send({ type: 'run.approve' });
      expect(restored.getSnapshot().value).toBe('executing');
      expect(log.started).toBe(1);
    });

    it('an edit sends the plan back to the manager with the note, and the new plan waits again', async () => {
      const feedbacks: (string | undefined)[] = [];
      const { actor, log } = startRun({ approve: true, onPlan: (feedback) => feedbacks.push(feedback) });
      await waitFor(actor, (s) => s.matches('awaitingApproval'));
      actor.send({ type: 'run.replan', feedback: 'split the second part in two' });
      await waitFor(actor, (s) => s.matches('awaitingApproval') && log.applied.length === 2);
      expect(feedbacks).toEqual([undefined, 'split the second part in two']);
      expect(log.announced.map((a) => a.status)).toEqual([
        'awaiting_approval',
        'analyzing',
        'awaiting_approval',
      ]);
      expect(actor.getSnapshot().context.planFeedback).toBeUndefined();
      expect(log.started).toBe(0);
    });

    it('a refused plan cancels the run; without approve_plan the run goes straight to work', async () => {
      const { actor, log } = startRun({ approve: true });
      await waitFor(actor, (s) => s.matches('awaitingApproval'));
      actor.send({ type: 'run.refuse' });
      expect(actor.getSnapshot().value).toBe('cancelled');
      expect(log.cancelled).toBe(1);
      expect(log.started).toBe(0);

      const plain = startRun({ approve: false });
      await waitFor(plain.actor, (s) => s.matches('executing'));
      expect(plain.log.announced.map((a) => a.status)).not.toContain('awaiting_approval');
    });
  });
});
