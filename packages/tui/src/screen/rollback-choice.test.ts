import type { CheckpointInfo, RollbackResult, TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { chooseRollback, rollbackUnsaid } from './rollback-choice.js';

const checkpoint = (id: string, tasksDone: number): CheckpointInfo => ({
  id,
  runId: 'r1',
  createdAt: '2026-05-01T12:00:00.000Z',
  reason: 'progress',
  tasksDone,
  lastEventId: tasksDone * 5,
});
const task = { id: 't3' } as TaskRecord;

/** A person who picks `choices` in turn, and the lists they were shown. */
function person(...choices: (number | undefined)[]) {
  const shown: { label: string; items: string[] }[] = [];
  const pick = (label: string, items: string[]) => {
    shown.push({ label, items });
    return Promise.resolve(choices.shift());
  };
  return { shown, pick };
}

describe('chooseRollback', () => {
  it('asks for the checkpoint, newest first, then how; selective starts at the selected task', async () => {
    const { shown, pick } = person(0, 2);
    const choice = await chooseRollback([checkpoint('cp1', 2), checkpoint('cp2', 5)], task, pick);
    expect(shown[0]!.items.map((item) => item.split('  ')[0])).toEqual(['cp2', 'cp1']);
    expect(shown[1]!.label).toBe(' Roll back to cp2: how? ');
    expect(shown[1]!.items.map((item) => item.split(':')[0])).toEqual(['full', 'partial', 'selective']);
    expect(choice).toEqual({ checkpoint: checkpoint('cp2', 5), strategy: 'selective', tasks: ['t3'] });
  });

  it('offers no selective rollback without a selected task, and Esc at either list chooses nothing', async () => {
    const without = person(1, 0);
    expect(
      await chooseRollback([checkpoint('cp1', 2), checkpoint('cp2', 5)], undefined, without.pick),
    ).toEqual({
      checkpoint: checkpoint('cp1', 2),
      strategy: 'full',
    });
    expect(without.shown[1]!.items).toHaveLength(2);
    expect(await chooseRollback([checkpoint('cp1', 2)], task, person(undefined).pick)).toBeUndefined();
    expect(await chooseRollback([checkpoint('cp1', 2)], task, person(0, undefined).pick)).toBeUndefined();
  });
});

describe('rollbackUnsaid', () => {
  const result = (status: RollbackResult['status'], reset: string[]) =>
    ({
      id: 'r1',
      status,
      rollback: { checkpointId: 'cp1', strategy: 'partial', reset, kept: ['a', 'b'] },
    }) as RollbackResult;

  it('says a rollback of a finished run that reset nothing left it as it was (no event tells it)', () => {
    expect(rollbackUnsaid(result('completed', []))).toBe(
      'rollback to cp1 (partial) reset no task, nothing to redo: 2 done tasks kept; run r1 stays completed',
    );
  });

  it("says nothing a rollback's own event tells: tasks reset, or a run still going", () => {
    expect(rollbackUnsaid(result('executing', ['a']))).toBeUndefined();
    expect(rollbackUnsaid(result('paused', []))).toBeUndefined();
  });
});
