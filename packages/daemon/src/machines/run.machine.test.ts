import type { FinalReview, Plan } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import { managerMachine, type PlanResult } from './manager.machine.js';
import { runMachine } from './run.machine.js';

const PLAN: Plan = {
  summary: 'One task.',
  tasks: [{ id: 'a', title: 'A', description: '', dependencies: [], priority: 'medium' }],
};
const REVIEW: FinalReview = { verdict: 'success', summary: 'All good.', followUps: [] };

function startRun(
  options: { plan?: string; allDone?: boolean; finalReview?: () => Promise<FinalReview> } = {},
) {
  const applied: PlanResult[] = [];
  const stored: (FinalReview | undefined)[] = [];
  const machine = runMachine.provide({
    actors: {
      manager: managerMachine.provide({
        actors: {
          requestPlan: fromPromise(() => Promise.resolve(options.plan ?? JSON.stringify(PLAN))),
          waitUntil: fromPromise(() => Promise.resolve()),
        },
      }),
      finalReview: fromPromise(options.finalReview ?? (() => Promise.resolve(REVIEW))),
    },
    actions: {
      applyPlan: (_, { result }) => applied.push(result),
      storeFinalReview: (_, { review }) => stored.push(review),
    },
    guards: { allTasksDone: () => options.allDone ?? true },
  });
  const actor = createActor(machine, {
    input: { runId: 'r1', goal: 'g', imported: undefined, maxRepairs: 2, maxRetries: 0 },
  });
  actor.start();
  return { actor, applied, stored };
}

describe('run machine', () => {
  it('goes analyzing → executing → paused → executing → reviewing → completed', async () => {
    const { actor, applied, stored } = startRun();
    expect(actor.getSnapshot().value).toBe('analyzing');
    await waitFor(actor, (s) => s.matches('executing'));
    expect(applied).toEqual([{ ok: true, plan: PLAN }]);
    expect(actor.getSnapshot().context.imported).toBeUndefined();
    actor.send({ type: 'run.pause' });
    expect(actor.getSnapshot().value).toBe('paused');
    actor.send({ type: 'run.settled' }); // nothing settles while paused
    expect(actor.getSnapshot().value).toBe('paused');
    actor.send({ type: 'run.resume' });
    actor.send({ type: 'run.settled' });
    expect(actor.getSnapshot().value).toBe('reviewing');
    await waitFor(actor, (s) => s.matches('completed'));
    expect(stored).toEqual([REVIEW]);
  });

  it('fails with the planning error when no valid plan comes', async () => {
    const { actor, applied } = startRun({ plan: 'nonsense' });
    await waitFor(actor, (s) => s.matches('failed'));
    expect(applied).toEqual([]);
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
    expect(noReview.stored).toEqual([undefined]);
  });

  it('cancels from any phase for good, and reopens a finished run as paused', async () => {
    const analyzing = startRun();
    analyzing.actor.send({ type: 'run.cancel' });
    expect(analyzing.actor.getSnapshot().value).toBe('cancelled');
    expect(analyzing.actor.getSnapshot().status).toBe('done');

    const { actor } = startRun();
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.settled' });
    await waitFor(actor, (s) => s.matches('completed'));
    actor.send({ type: 'run.reopen' });
    expect(actor.getSnapshot().value).toBe('paused');
    actor.send({ type: 'run.cancel' });
    expect(actor.getSnapshot().value).toBe('cancelled');
  });

  it('restores a persisted snapshot in the phase it was saved in', async () => {
    const { actor } = startRun();
    await waitFor(actor, (s) => s.matches('executing'));
    actor.send({ type: 'run.pause' });
    const saved = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as unknown;
    actor.stop();
    const restored = createActor(runMachine, {
      input: { runId: 'r1', goal: 'g', imported: undefined, maxRepairs: 2, maxRetries: 0 },
      snapshot: saved as never,
    });
    restored.start();
    expect(restored.getSnapshot().value).toBe('paused');
    restored.send({ type: 'run.resume' });
    expect(restored.getSnapshot().value).toBe('executing');
    restored.stop();
  });
});
