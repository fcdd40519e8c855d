import type { Attempt, TaskRecord, TaskStatus } from '@orc/shared';
import { ZERO_USAGE } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { RunForecaster } from './run-forecast.js';
import { TaskText } from '../store/run-document.js';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');

function record(id: string, status: TaskStatus, costs: number[]): TaskRecord {
  const attempts: Attempt[] = costs.map((costUsd, i) => ({
    n: i + 1,
    worker: 0,
    startedAt: new Date(T0).toISOString(),
    outcome: 'succeeded',
    usage: ZERO_USAGE,
    costUsd,
  }));
  return {
    id,
    title: id,
    description: '',
    dependencies: [],
    priority: 'medium',
    status,
    attempts,
    reworks: 0,
  };
}

describe('RunForecaster', () => {
  it('forecasts the cost from what finished tasks cost and the finish from their recent pace', () => {
    const forecaster = new RunForecaster();
    const tasks = new Map<string, TaskRecord>();
    const move = (task: TaskRecord, from: TaskStatus, to: TaskStatus, at: number) => {
      tasks.set(task.id, task);
      forecaster.moved(task, from, to, at);
    };
    const input = (now: number, spentUsd: number, counts: Record<string, number>) => ({
      now,
      spentUsd,
      finalReviewUsd: 0,
      count: (status: TaskStatus) => counts[status] ?? 0,
      total: 10,
      resumeAt: undefined,
      waitsForAPerson: false,
      task: (id: string) => tasks.get(id),
    });
    expect(forecaster.forecast(input(T0, 0, { ready: 10 }))).toBeUndefined();
    // Four tasks done, one a second from T0, at $0.10 each; a fifth under way has cost $0.04 so far.
    for (let i = 0; i < 4; i++) {
      move(record(`t${i}`, 'running', []), 'ready', 'running', T0);
      move(record(`t${i}`, 'done', [0.1]), 'reviewing', 'done', T0 + (i + 1) * 1000);
    }
    move(record('t4', 'running', [0.04]), 'ready', 'running', T0 + 4000);
    const at = T0 + 4000;
    const forecast = forecaster.forecast(input(at, 0.44, { done: 4, running: 1, ready: 5 }))!;
    // 0.44 spent + 6 tasks left × 0.10 − 0.04 already spent on the one under way.
    expect(forecast.costUsd).toBeCloseTo(1.0);
    // One a second: six more seconds.
    expect(forecast.finishAt).toBe(new Date(at + 6000).toISOString());
  });

  it('starts a quota wait’s tasks at its end, and has no finish time while a person is awaited', () => {
    const forecaster = new RunForecaster();
    forecaster.moved(record('a', 'running', []), 'ready', 'running', T0);
    forecaster.moved(record('a', 'done', [0.2]), 'reviewing', 'done', T0 + 10_000);
    const base = {
      now: T0 + 10_000,
      spentUsd: 0.2,
      finalReviewUsd: 0,
      count: (status: TaskStatus) => ({ done: 1, ready: 1 })[status as string] ?? 0,
      total: 2,
      task: () => undefined,
    };
    const waiting = forecaster.forecast({ ...base, resumeAt: T0 + 3_600_000, waitsForAPerson: false })!;
    expect(waiting.costUsd).toBeCloseTo(0.4);
    expect(waiting.finishAt).toBe(new Date(T0 + 3_600_000 + 10_000).toISOString());
    expect(forecaster.forecast({ ...base, resumeAt: undefined, waitsForAPerson: true })).toEqual({
      costUsd: expect.closeTo(0.4) as number,
      noFinishAt: 'person',
    });
    // The final review still to be paid is in it, a paused or held run's as a running one's: a held run
    // forecast $0.004 and ended at $0.0059.
    const held = { ...base, finalReviewUsd: 0.05, resumeAt: undefined, waitsForAPerson: true };
    expect(forecaster.forecast(held)!.costUsd).toBeCloseTo(0.45);
  });

  it('is the same from settled tasks kept as their text as from their records', () => {
    const tasks = [record('a', 'done', [0.2, 0.1]), record('b', 'done', [0.3])];
    const base = {
      now: T0 + 10_000,
      spentUsd: 0.6,
      finalReviewUsd: 0,
      count: (status: TaskStatus) => ({ done: 2, pending: 2 })[status as string] ?? 0,
      total: 4,
      resumeAt: undefined,
      waitsForAPerson: false,
      task: () => undefined,
    };
    const fromRecords = new RunForecaster();
    fromRecords.reset(tasks);
    const fromText = new RunForecaster();
    fromText.reset(tasks.map((task) => TaskText.of(task)));
    expect(fromText.forecast(base)).toEqual(fromRecords.forecast(base));
    // Two tasks left at the $0.30 a finished one cost; the pace is measured from the next start on.
    expect(fromRecords.forecast(base)).toEqual({
      costUsd: expect.closeTo(1.2, 10) as number,
      noFinishAt: 'pace',
    });
  });

  it('is made afresh at most every 100 ms; in between the spend it adds to is current', () => {
    const forecaster = new RunForecaster();
    forecaster.reset([record('a', 'done', [0.2])]);
    let total = 3;
    const at = (now: number, spentUsd: number) =>
      forecaster.forecast({
        now,
        spentUsd,
        finalReviewUsd: 0,
        count: (status: TaskStatus) => (status === 'done' ? 1 : 0),
        total,
        resumeAt: undefined,
        waitsForAPerson: true,
        task: () => undefined,
      })!.costUsd;
    // Two tasks left at $0.20 each.
    expect(at(T0, 0.2)).toBeCloseTo(0.6);
    total = 5;
    // Within 100 ms: the remainder made at T0, the spend of now.
    expect(at(T0 + 99, 0.3)).toBeCloseTo(0.7);
    // Past it: four tasks left.
    expect(at(T0 + 100, 0.3)).toBeCloseTo(1.1);
  });

  it('paces the tasks left on the working clock, afresh after a rollback: idle time is not the pace', () => {
    let idle = 0;
    const forecaster = new RunForecaster(() => idle);
    const input = (now: number, counts: Record<string, number>) => ({
      now,
      spentUsd: 0.4,
      finalReviewUsd: 0,
      count: (status: TaskStatus) => counts[status] ?? 0,
      total: 4,
      resumeAt: undefined,
      waitsForAPerson: false,
      task: () => undefined,
    });
    // Two tasks done, one every 10 s.
    forecaster.moved(record('a', 'running', []), 'ready', 'running', T0);
    forecaster.moved(record('a', 'done', [0.2]), 'reviewing', 'done', T0 + 10_000);
    forecaster.moved(record('b', 'running', []), 'ready', 'running', T0 + 10_000);
    forecaster.moved(record('b', 'done', [0.2]), 'reviewing', 'done', T0 + 20_000);
    // Rolled back to where b was not done; the run was paused an hour before it was resumed.
    forecaster.reset([record('a', 'done', [0.2]), record('b', 'pending', [])]);
    idle = 3_600_000;
    const resumed = T0 + 20_000 + idle;
    // No pace yet, and it says so: not "waits for a person" (what a restarted executing run showed).
    expect(forecaster.forecast(input(resumed, { done: 1, ready: 3 }))).toEqual({
      costUsd: expect.closeTo(1.0, 10) as number,
      noFinishAt: 'pace',
    });
    forecaster.moved(record('b', 'running', []), 'ready', 'running', resumed);
    forecaster.moved(record('b', 'done', [0.2]), 'reviewing', 'done', resumed + 10_000);
    // One task in 10 s of work since: the two left take 20 s, not two hours.
    const at = resumed + 10_000;
    expect(forecaster.forecast(input(at, { done: 2, ready: 2 }))!.finishAt).toBe(
      new Date(at + 20_000).toISOString(),
    );
  });
});
