import { describe, expect, it } from 'vitest';
import { RunFold, type FoldedRun } from './run-fold.js';
import { runWorkMs, simulatedLabel, simulatedRoles, type RunModels } from './run.js';
import type { OrcEvent } from './events.js';
import { ZERO_USAGE } from './task.js';

const models = (manager: string, worker: string): RunModels =>
  ({
    manager: { provider: manager, model: 'm' },
    worker: { provider: worker, model: 'w' },
    simulated: manager === 'simulated' || worker === 'simulated',
  }) as RunModels;

describe('the SIMULATED label', () => {
  it('says which role is simulated, so real agents under a simulated manager are not called simulated work', () => {
    expect(simulatedRoles(models('simulated', 'simulated'))).toBe('SIMULATED');
    expect(simulatedRoles(models('simulated', 'claude-code'))).toBe('SIMULATED manager');
    expect(simulatedRoles(models('anthropic', 'simulated'))).toBe('SIMULATED workers');
    expect(simulatedRoles(models('anthropic', 'claude-code'))).toBeUndefined();
    expect(simulatedLabel({ models: models('simulated', 'claude-code') })).toBe(' [SIMULATED manager]');
    expect(simulatedLabel({ models: models('anthropic', 'anthropic') })).toBe('');
  });
});

describe("a run's working time", () => {
  it('leaves out its pauses and the time it sat finished before a rollback reopened it', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 10, 30, 10, 0, s)).toISOString();
    const run: FoldedRun = {
      goal: 'g',
      status: 'executing',
      models: models('simulated', 'simulated'),
      createdAt: t(0),
      updatedAt: t(0),
      usage: ZERO_USAGE,
      costUsd: 0,
      lastEventId: 0,
      tasks: [],
    };
    const fold = new RunFold(run);
    let id = 0;
    const apply = (at: number, event: Record<string, unknown>) =>
      fold.apply({ id: ++id, runId: 'r1', at: t(at), ...event } as unknown as OrcEvent);
    apply(10, { type: 'run.paused', reason: 'user' });
    expect(runWorkMs(run, Date.parse(t(40)))).toBe(10_000);
    apply(40, { type: 'run.status', status: 'executing' });
    apply(50, { type: 'run.completed', review: { verdict: 'success', summary: '', followUps: [] } });
    expect(runWorkMs(run, Date.parse(t(59)))).toBe(20_000);
    // Rolled back 9 s after it finished, resumed 1 s later, done 5 s after that.
    apply(59, { type: 'run.rollback_started', checkpointId: 'cp1', strategy: 'full' });
    apply(60, { type: 'run.status', status: 'executing' });
    apply(65, { type: 'run.completed', review: { verdict: 'success', summary: '', followUps: [] } });
    expect(run.idleMs).toBe(40_000);
    expect(runWorkMs(run, Date.parse(t(59)) + 3_600_000)).toBe(25_000);
  });

  it("leaves out the daemon's downtime before a restore (a kill -9), once, and not again within a pause", () => {
    const t = (s: number) => new Date(Date.UTC(2026, 10, 30, 10, 0, s)).toISOString();
    const run: FoldedRun = {
      goal: 'g',
      status: 'executing',
      models: models('simulated', 'simulated'),
      createdAt: t(0),
      updatedAt: t(0),
      usage: ZERO_USAGE,
      costUsd: 0,
      lastEventId: 0,
      tasks: [],
    };
    const fold = new RunFold(run);
    let id = 0;
    const apply = (at: number, event: Record<string, unknown>) =>
      fold.apply({ id: ++id, runId: 'r1', at: t(at), ...event } as unknown as OrcEvent);
    // Last heard of at 10 s, restarted at 40 s.
    apply(40, { type: 'run.restored', interruptedTasks: [], lastAliveAt: t(10) });
    expect(runWorkMs(run, Date.parse(t(50)))).toBe(20_000);
    // Paused at 50 s, killed, restarted at 80 s: the pause's span has the downtime already.
    apply(50, { type: 'run.paused', reason: 'user' });
    apply(80, { type: 'run.restored', interruptedTasks: [], lastAliveAt: t(50) });
    apply(90, { type: 'run.status', status: 'executing' });
    expect(runWorkMs(run, Date.parse(t(100)))).toBe(30_000);
    // An older journal's restore, without lastAliveAt: nothing known to leave out.
    apply(100, { type: 'run.restored', interruptedTasks: [] });
    expect(run.idleMs).toBe(70_000);
  });
});
