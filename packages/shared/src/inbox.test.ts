import { describe, expect, it } from 'vitest';
import { answerHint, type InboxItem } from './inbox.js';

const item = (choices: InboxItem['choices']): InboxItem => ({
  id: 'i2',
  type: 'task_failed',
  runId: 'r1a2b3c',
  taskId: 't2',
  status: 'open',
  openedAt: '2026-12-01T00:00:00.000Z',
  question: 'task t2 of run r1a2b3c failed',
  choices,
});

describe('answerHint', () => {
  it('says that cancel cancels the whole run, and the figure a raise sets as every cost reads', () => {
    expect(
      answerHint(
        item([
          { id: 'raise', key: 'r', label: 'raise', budgetUsd: 0.00051 },
          { id: 'skip', key: 's', label: 'skip it' },
          { id: 'cancel', key: 'c', label: 'cancel the run' },
        ]),
      ),
    ).toBe(
      'orc answer i2 raise|skip|cancel; raise sets the cost cap of a task to $0.00051, raise --budget <usd> to another; cancel cancels run r1a2b3c',
    );
    expect(answerHint(item([{ id: 'retry', key: 'r', label: 'run it again' }]))).toBe('orc answer i2 retry');
    // One answer for every task stopped at the cap: what it sets, and that it runs them all.
    expect(
      answerHint(
        item([
          { id: 'raise', key: 'r', label: 'raise', budgetUsd: 0.0031 },
          { id: 'retry_all', key: 'a', label: 'raise for all', budgetUsd: 0.0042 },
        ]),
      ),
    ).toBe(
      'orc answer i2 raise|retry_all; raise sets the cost cap of a task to $0.0031, raise --budget <usd> to another; retry_all sets it to $0.0042 and runs every task stopped at the cap again',
    );
  });
});
