import { ZERO_USAGE, type ProviderName, type RunModels, type RunReport, type RunsReport } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { failuresText, runsReportLines } from './report-text.js';

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
});
