import type { RunSummary, RunView, TaskRecord } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runReport } from './run-report.js';
import { formatAge, forecastText, runTable, statusText } from './run-table.js';

const NOW = Date.parse('2026-11-30T10:00:00.000Z');

function summary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    id: 'r1',
    goal: 'Write the guide',
    status: 'executing',
    models: {
      manager: { provider: 'anthropic', model: 'claude-opus-5-5' },
      worker: { provider: 'anthropic', model: 'claude-sonnet-5-5' },
      simulated: false,
    },
    maxWorkers: 4,
    createdAt: '2026-11-30T09:50:00.000Z',
    updatedAt: '2026-11-30T09:59:00.000Z',
    taskCounts: { done: 10, ready: 30 },
    taskTotal: 40,
    usage: { inputTokens: 1000, outputTokens: 500, cacheReadTokens: 3000, cacheWriteTokens: 0 },
    costUsd: 0.25,
    lastEventId: 40,
    ...over,
  };
}

describe('orc ls AGE', () => {
  it('never reads less than TIME beside it: the same precision under a day', () => {
    // Created 1m30.4s ago and worked all of it: AGE read "1m" beside TIME "1m30s".
    const run = summary({ createdAt: new Date(NOW - 90_400).toISOString() });
    const [header, row] = runTable([run], NOW);
    expect(header!.split(/ {2,}/).slice(2, 4)).toEqual(['AGE', 'TIME']);
    expect(row!.trim().split(/ {2,}/).slice(2, 4)).toEqual(['1m30s', '1m30s']);
    expect([400, 45_000, 725_000, 11_220_000].map(formatAge)).toEqual(['0.4s', '45s', '12m05s', '3h07m']);
    expect(formatAge(3 * 86_400_000 + 7 * 3_600_000 + 59_000)).toBe('3d07h');
    expect(formatAge(17 * 86_400_000)).toBe('2w3d');
    expect(formatAge(-5)).toBe('0s');
  });

  it('shows a cost below a cent to its significant digits, as orc show does', () => {
    // $0.0006 under a $0.001 cap read "$0.001", as if the run were at its cap.
    const [, row] = runTable([summary({ costUsd: 0.0006, forecast: { costUsd: 0.0031 } })], NOW);
    expect(row!.trim().split(/ {2,}/).slice(4, 6)).toEqual(['$0.0006', '$0.0031']);
  });
});

describe('orc ls on a damaged run', () => {
  it('gives the fix on a line of its own, not cut off after the file and its reason', () => {
    const damage = {
      file: `/home/someone/.local/state/claude-orchestrator/runs/r1/${'deep/'.repeat(20)}state.json`,
      reason: 'is not valid JSON (Unterminated string in JSON at position 3483)',
      at: '2026-11-30T09:59:00.000Z',
    };
    const lines = runTable([summary({ status: 'damaged', damage })], NOW, 160);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^ {2}damaged: .*…$/);
    expect(lines[3]).toMatch(/^ {2}fix: orc rm r1 removes it; or put back a good copy of the file/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(160);
  });
});

describe('orc ls and orc show on quota waits and forecasts', () => {
  // Times are the reader's local time: a zone of its own (not UTC, not the machine's), so the times
  // expected are exact in any zone the tests run in (in UTC-11 the wait below ended "tomorrow").
  beforeEach(() => vi.stubEnv('TZ', 'Asia/Kolkata'));
  afterEach(() => vi.unstubAllEnvs());

  it('says until when a run waits for its quota, in the reader’s time', () => {
    const resumeAt = '2026-11-30T11:30:00.000Z';
    const waiting = summary({ status: 'paused', pauseReason: 'quota', resumeAt });
    // 11:30 UTC is 17:00 in Kolkata (UTC+5:30), the same day as now there.
    expect(statusText(waiting, NOW)).toBe('waiting for quota until 17:00');
    expect(statusText(summary({ status: 'paused', pauseReason: 'user' }), NOW)).toBe('paused (user)');
    const [header, row] = runTable([waiting], NOW);
    expect(header).toMatch(/^ID +STATUS +AGE +TIME +COST +FORECAST +DONE +GOAL$/);
    expect(row).toContain('waiting for quota until 17:00');
    // A wait that ends on another day there names it.
    const tomorrow = summary({
      status: 'paused',
      pauseReason: 'quota',
      resumeAt: '2026-11-30T19:00:00.000Z',
    });
    expect(statusText(tomorrow, NOW)).toBe('waiting for quota until 00:30 on 2026-12-01');
  });

  it('shows the forecast cost and finish time of a live run, and - without one', () => {
    const finishAt = '2026-11-30T10:20:00.000Z';
    expect(forecastText(summary({ forecast: { costUsd: 1.5, finishAt } }), NOW)).toBe('$1.50 15:50');
    expect(forecastText(summary({ forecast: { costUsd: 1.5 } }), NOW)).toBe('$1.50');
    expect(forecastText(summary(), NOW)).toBe('-');
    // A finish time the clock has passed (a task running long since the forecast) is not given as one.
    const later = Date.parse(finishAt) + 60_000;
    expect(forecastText(summary({ forecast: { costUsd: 1.5, finishAt } }), later)).toBe('$1.50 overdue');
    expect(runTable([summary({ forecast: { costUsd: 1.5, finishAt } })], later)[1]).not.toContain('15:50');
    // Its tasks settled, the run finishes with its final review: not overdue while it is written.
    const reviewing = summary({ status: 'reviewing', forecast: { costUsd: 0.024, finishAt } });
    expect(forecastText(reviewing, later)).toBe('$0.024 final review');
    expect(runReport({ ...reviewing, tasks: [] } as unknown as RunView, later)).toContain(
      'forecast: $0.024 in all, finishing once its final review is written',
    );
  });

  it('orc show gives the forecast, the share of input read from the cache, and the quota wait', () => {
    const view: RunView = {
      ...summary({
        status: 'paused',
        pauseReason: 'quota',
        resumeAt: '2026-11-30T11:30:00.000Z',
        quotaModel: 'claude-sonnet-5-5',
        forecast: { costUsd: 1.5, finishAt: '2026-11-30T12:00:00.000Z' },
      }),
      tasks: [],
      busyWorkers: 0,
    };
    const lines = runReport(view, NOW);
    expect(lines[0]).toBe(
      'run r1 waiting for quota until 17:00 (claude-sonnet-5-5, at 2026-11-30T11:30:00.000Z; orc resume goes on now)',
    );
    expect(lines).toContain('forecast: $1.50 in all, finishing at 17:30 (2026-11-30T12:00:00.000Z)');
    expect(lines.find((l) => l.startsWith('tasks:'))).toContain('(75 % of input from cache)');
  });

  it('orc show gives a task’s error whole, with the command at its end', () => {
    const error = `task b would pass the cost cap of a task ($0.001, execution.max_task_cost_usd): it has cost $0.0005 and a review costs about $0.0007; a retry needs a cap of $0.0042: orc retry r1 b --task-budget 0.0042`;
    const b: TaskRecord = {
      id: 'b',
      title: 'B',
      description: '',
      dependencies: [],
      priority: 'medium',
      status: 'failed',
      attempts: [],
      reworks: 0,
      error,
    };
    const lines = runReport({ ...summary({ status: 'failed' }), tasks: [b], busyWorkers: 0 }, NOW);
    expect(lines.find((l) => l.trim().startsWith('error:'))!.trim()).toBe(`error: ${error}`);
  });

  it('orc show says why a forecast has no finish time: a person to wait for, or no pace yet', () => {
    const show = (forecast: RunView['forecast'], status: RunView['status']) =>
      runReport({ ...summary({ status, forecast }), tasks: [], busyWorkers: 0 }, NOW).find((l) =>
        l.startsWith('forecast:'),
      );
    // Right after a restart an executing run has no pace yet: it waits for no one.
    expect(show({ costUsd: 1.5, noFinishAt: 'pace' }, 'executing')).toBe(
      'forecast: $1.50 in all, no finish time yet: one comes once tasks finish again',
    );
    expect(show({ costUsd: 1.5, noFinishAt: 'person' }, 'paused')).toBe(
      'forecast: $1.50 in all, no finish time while it waits for a person',
    );
  });

  it('orc show does not say a run paused by a person (orc pause, orc rollback) waits for one: orc inbox has nothing', () => {
    const show = (pauseReason: RunView['pauseReason']) =>
      runReport(
        {
          ...summary({ status: 'paused', pauseReason, forecast: { costUsd: 1.5, noFinishAt: 'person' } }),
          tasks: [],
          busyWorkers: 0,
        },
        NOW,
      ).find((l) => l.startsWith('forecast:'));
    expect(show('rollback')).toBe(
      'forecast: $1.50 in all, no finish time while it is paused (orc resume r1 goes on)',
    );
    expect(show('user')).toBe(
      'forecast: $1.50 in all, no finish time while it is paused (orc resume r1 goes on)',
    );
    expect(show('budget')).toBe('forecast: $1.50 in all, no finish time while it waits for a person');
  });
});

describe('orc show STATUS', () => {
  const first = (over: Partial<RunSummary>) =>
    runReport({ ...summary(over), tasks: [], busyWorkers: 0 }, NOW)[0];

  it('uses the words orc ls uses, the one function for both', () => {
    for (const over of [
      { status: 'awaiting_approval' },
      { status: 'paused', pauseReason: 'budget' },
      { status: 'paused', pauseReason: 'held' },
      { status: 'executing' },
    ] as const)
      expect(first(over)).toBe(`run r1 ${statusText(summary(over), NOW)}`);
    expect(first({ status: 'awaiting_approval' })).toBe('run r1 awaiting approval');
    expect(first({ status: 'paused', pauseReason: 'provider', resumeAt: '2026-11-30T10:05:00.000Z' })).toBe(
      'run r1 paused (provider), resumes by itself at 2026-11-30T10:05:00.000Z',
    );
  });
});

describe('orc ls STATUS', () => {
  it('says why a run is paused, as orc show does, and awaiting approval in words', () => {
    expect(statusText(summary({ status: 'paused', pauseReason: 'budget' }), NOW)).toBe('paused (budget)');
    expect(statusText(summary({ status: 'paused', pauseReason: 'held' }), NOW)).toBe('paused (held)');
    expect(statusText(summary({ status: 'paused', pauseReason: 'rollback' }), NOW)).toBe('paused (rollback)');
    expect(statusText(summary({ status: 'paused', pauseReason: 'user' }), NOW)).toBe('paused (user)');
    expect(statusText(summary({ status: 'paused' }), NOW)).toBe('paused');
    expect(statusText(summary({ status: 'awaiting_approval' }), NOW)).toBe('awaiting approval');
    const [, row] = runTable([summary({ status: 'paused', pauseReason: 'budget' })], NOW);
    expect(row!.trim().split(/ {2,}/)[1]).toBe('paused (budget)');
  });
});
