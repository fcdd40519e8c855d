import type { OrcEvent } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { eventLine } from './event-line.js';

const worked = (output: string, streamed?: number): OrcEvent => ({
  id: 9,
  at: '2026-11-30T22:03:50.000Z',
  runId: 'r1',
  type: 'task.worked',
  taskId: 's1',
  attempt: 1,
  output,
  ...(streamed !== undefined && { streamed }),
  usage: { inputTokens: 10, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 },
  costUsd: 0.0012,
});

describe('eventLine of task.worked', () => {
  it('goes on with the part of a streamed answer no worker.output told', () => {
    const output = 'line 60 of task 1: the quick brown fox jumps over the lazy dog.\nEND-1 answer';
    expect(eventLine(worked(output, output.indexOf('lazy')))).toBe(
      '#9 22:03:50 task.worked          s1 attempt 1, $0.0012: lazy dog. END-1 answer',
    );
  });

  it('shows an answer that came whole, and nothing more when the stream told it all', () => {
    expect(eventLine(worked('all at once', 0))).toContain('s1 attempt 1, $0.0012: all at once');
    expect(eventLine(worked('told by the stream', 18))).toMatch(/s1 attempt 1, \$0\.0012$/);
    // A journal from before `streamed`: its stream told everything, and the line showed the start.
    expect(eventLine(worked('older journal'))).toContain(': older journal');
  });
});

describe('eventLine of long text', () => {
  it('keeps a worker output and an answer whole, on one line', () => {
    const text = `${'the tide comes in and goes out again '.repeat(8)}\nand the end`;
    const output: OrcEvent = {
      id: 3,
      at: '2026-11-30T22:03:50.000Z',
      runId: 'r1',
      type: 'worker.output',
      taskId: 's1',
      worker: 0,
      text,
    };
    const flat = text.replace(' \n', ' ');
    expect(eventLine(output)).toBe(`#3 22:03:50 worker.output        s1 ${flat}`);
    expect(eventLine(worked(text))).toBe(`#9 22:03:50 task.worked          s1 attempt 1, $0.0012: ${flat}`);
  });
});

describe('eventLine of budgets', () => {
  const base = { id: 4, at: '2026-11-30T22:03:50.000Z', runId: 'r1' };
  it('gives a budget below a cent as it was set, and a cost to its significant digits', () => {
    // Both read $0.00 (toFixed(2)) beside a $0.0042 cap.
    expect(eventLine({ ...base, type: 'run.budget_set', limitUsd: 0.005 })).toMatch(
      /run\.budget_set +\$0\.005$/,
    );
    expect(eventLine({ ...base, type: 'run.budget_exceeded', costUsd: 0.00517, limitUsd: 0.005 })).toMatch(
      /\$0\.0051 of \$0\.005$/,
    );
  });

  it('tells a pause before work that does not fit from a budget passed', () => {
    // A trial read `run.budget_exceeded $0.0013 of $0.003`: nothing was exceeded, the next task did not fit.
    const event = {
      ...base,
      type: 'run.budget_would_exceed' as const,
      costUsd: 0.0013,
      limitUsd: 0.003,
      neededUsd: 0.0012,
      underWayUsd: 0.0006,
      nextTask: 't3',
    };
    expect(eventLine(event)).toMatch(
      /run\.budget_would_exceed +\$0\.0013 of \$0\.003 spent; task t3 needs about \$0\.0012, work under way about \$0\.0006: it does not fit$/,
    );
    const { nextTask: _task, ...finalReview } = event;
    expect(eventLine({ ...finalReview, underWayUsd: 0 })).toMatch(
      /\$0\.0013 of \$0\.003 spent; the final review needs about \$0\.0012: it does not fit$/,
    );
  });
});

describe('eventLine of run.restored', () => {
  const restored = (interruptedTasks: string[], reviewAgain?: string[]): OrcEvent => ({
    id: 40,
    at: '2026-11-30T22:03:50.000Z',
    runId: 'r1',
    type: 'run.restored',
    interruptedTasks,
    ...(reviewAgain && { reviewAgain }),
  });

  it('says which tasks run again and which keep their answer and are only reviewed again', () => {
    // A trial read "run again: t4" of a task whose attempt was kept and only its review made again.
    expect(eventLine(restored(['t2', 't4'], ['t4']))).toBe(
      '#40 22:03:50 run.restored         interrupted, and run again: t2; interrupted in review, the answer kept and reviewed again: t4',
    );
    expect(eventLine(restored(['t4'], ['t4']))).toMatch(
      /run\.restored +interrupted in review, the answer kept and reviewed again: t4$/,
    );
    // An older journal did not tell them apart.
    expect(eventLine(restored(['t2']))).toMatch(/run\.restored +interrupted, and run again: t2$/);
    expect(eventLine(restored([], []))).toBe('#40 22:03:50 run.restored');
  });
});
