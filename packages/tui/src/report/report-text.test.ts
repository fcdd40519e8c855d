import { ZERO_USAGE, type ProviderName, type RunModels, type RunReport, type RunsReport } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { failuresText, runReportLines, runsReportLines } from './report-text.js';

const report = (failed: number, failures: RunReport['failures']) => ({
  taskCounts: { failed },
  failureRate: failed / 4,
  failures,
});

describe('failuresText', () => {
  it('tells what became of each earlier failure, in the singular for one', () => {
    expect(failuresText(report(0, { count: 1, since: 1 }))).toBe(
      '0 tasks failed (failure rate 0%); 1 earlier failure, of a task since retried or rolled back (in the reasons)',
    );
    // One retried, one skipped: not "2 earlier failures of tasks retried or rolled back since".
    expect(failuresText(report(1, { count: 3, since: 2, skipped: 1, cancelled: 0 }))).toBe(
      '1 task failed (failure rate 25%); 2 earlier failures, of tasks since retried or rolled back (1) or skipped (1) (in the reasons)',
    );
    expect(failuresText(report(0, { count: 2, since: 2, skipped: 2, cancelled: 0 }))).toBe(
      '0 tasks failed (failure rate 0%); 2 earlier failures, of tasks since skipped (in the reasons)',
    );
    expect(failuresText(report(1, { count: 1, since: 0 }))).toBe('1 task failed (failure rate 25%)');
  });
});

describe('runsReportLines', () => {
  const models = (manager: ProviderName, worker: ProviderName): RunModels => ({
    manager: { provider: manager, model: 'claude-opus-5-5' },
    worker: { provider: worker, model: 'claude-sonnet-5-5' },
    simulated: manager === 'simulated' && worker === 'simulated',
  });
  const run = (id: string, costUsd: number, runModels: RunModels) => ({
    id,
    goal: `goal of ${id}`,
    status: 'completed' as const,
    createdAt: '2026-12-01T05:00:00.000Z',
    costUsd,
    tasks: 4,
    reworkRate: 0,
    models: runModels,
  });
  const window = (runs: RunsReport['runs'], simulatedCostUsd: number): RunsReport => ({
    since: '2026-11-24T05:00:00.000Z',
    at: '2026-12-01T05:00:00.000Z',
    runs,
    byStatus: { completed: runs.length },
    spend: { usage: ZERO_USAGE, costUsd: runs.reduce((sum, r) => sum + r.costUsd, 0) },
    simulatedCostUsd,
    reworkByModel: [],
    reworkByKind: [],
    failureReasons: [],
    reworkReasons: [],
    unreadable: [],
  });

  it('labels simulated runs and says what of the spend was simulated, not spent', () => {
    const mixed = runsReportLines(
      window(
        [
          run('r1', 0.5, models('anthropic', 'anthropic')),
          run('r2', 0.25, models('simulated', 'simulated')),
          run('r3', 0.25, models('simulated', 'claude-code')),
        ],
        0.3,
      ),
    );
    expect(mixed[0]).toBe(
      'since 2026-11-24 05:00: 3 runs (3 completed), spend $1.00 (0 in, 0 out), of which $0.30 simulated tokens at real prices: not spent',
    );
    expect(mixed.filter((l) => l.startsWith('  r'))).toEqual([
      expect.stringMatching(/ goal of r1$/) as string,
      expect.stringMatching(/ goal of r2 \[SIMULATED\]$/) as string,
      expect.stringMatching(/ goal of r3 \[SIMULATED manager\]$/) as string,
    ]);
    const real = runsReportLines(window([run('r1', 0.5, models('anthropic', 'anthropic'))], 0));
    expect(real[0]).toBe('since 2026-11-24 05:00: 1 run (1 completed), spend $0.50 (0 in, 0 out)');
    // From a daemon built before runs carried their models: unlabelled, not a crash.
    const { models: _, ...older } = run('r1', 0.5, models('simulated', 'simulated'));
    const { simulatedCostUsd: __, ...olderWindow } = window([older], 0);
    expect(runsReportLines(olderWindow)).toEqual([
      'since 2026-11-24 05:00: 1 run (1 completed), spend $0.50 (0 in, 0 out)',
      'runs:',
      '  r1  completed    $0.50     4 tasks  rework   0%  goal of r1',
    ]);
  });

  it('says how many kinds of task it left out, and counts the runs it could not read', () => {
    const kinds = ['add', 'fix', 'test', 'write', 'port', 'move', 'drop', 'tune', 'name', 'read'];
    const report: RunsReport = {
      ...window([run('r1', 0.5, models('anthropic', 'anthropic'))], 0),
      reworkByKind: kinds.map((key) => ({ key, reviewed: 2, reworked: 1, rate: 0.5 })),
      unreadable: [{ id: 'r9', reason: '/home/runs/r9/state.json is not valid JSON (at line 1)' }],
    };
    const lines = runsReportLines(report);
    expect(lines[0]).toBe(
      'since 2026-11-24 05:00: 1 run (1 completed) and 1 that could not be read (listed below), spend $0.50 (0 in, 0 out)',
    );
    const kindRows = lines.slice(lines.indexOf('rework by kind of task:') + 1, lines.indexOf('runs:'));
    expect(kindRows).toHaveLength(9);
    expect(kindRows.at(-2)).toMatch(/^ {2}tune /);
    expect(kindRows.at(-1)).toBe('  … 2 more (--json has them all)');
    expect(lines.at(-1)).toBe(
      '  r9  could not be read: /home/runs/r9/state.json is not valid JSON (at line 1)',
    );
  });
});

describe('runReportLines', () => {
  const spend = (costUsd: number) => ({ usage: ZERO_USAGE, costUsd });
  const task = (id: string, costUsd: number, attempts: number) => ({
    id,
    title: `Task ${id}`,
    status: 'done' as const,
    attempts,
    reworks: 0,
    spend: spend(costUsd),
    workMs: 1_500,
    elapsedMs: 1_500,
    onCriticalPath: false,
    ratings: [],
  });
  const report: RunReport = {
    runId: 'r1',
    goal: 'a goal',
    status: 'completed',
    models: {
      manager: { provider: 'anthropic', model: 'claude-opus-5-5' },
      worker: { provider: 'anthropic', model: 'claude-sonnet-5-5' },
      simulated: false,
    },
    maxWorkers: 2,
    createdAt: '2026-12-01T05:00:00.000Z',
    at: '2026-12-01T05:01:00.000Z',
    taskCounts: { done: 2 },
    taskTotal: 2,
    reviews: { accept: 2, rework: 0, fail: 0 },
    reworkRate: 0,
    failureRate: 0,
    reworkReasons: [],
    failureReasons: [],
    spend: { total: spend(12.5), manager: spend(0), workers: spend(12.5), byModel: [] },
    time: { makespanMs: 3_000, criticalPathMs: 1_500, criticalPath: [], utilisation: 1 },
    tasks: [task('a', 0.00072, 1), task('b', 12.5, 123456)],
    timeline: [],
    feedback: [],
    ratings: { count: 0 },
  };

  it('sizes each number column of the task table by its widest cell', () => {
    const lines = runReportLines(report);
    const table = lines.slice(lines.findIndex((l) => l.startsWith('  task ')));
    expect(table).toHaveLength(3);
    // Every row ends its cost and its tries where the heading does ("$0.00072" is 8 characters).
    const endOf = (line: string, cell: string) => line.indexOf(cell) + cell.length;
    const [heading, a, b] = table as [string, string, string];
    expect(endOf(a, '$0.00072')).toBe(endOf(heading, 'cost'));
    expect(endOf(b, '$12.50')).toBe(endOf(heading, 'cost'));
    expect(endOf(b, '123456')).toBe(endOf(heading, 'tries'));
    expect(endOf(a, ' 1 ')).toBe(endOf(heading, 'tries') + 1);
    expect(new Set(table.map((l) => l.length)).size).toBe(1);
  });
});
