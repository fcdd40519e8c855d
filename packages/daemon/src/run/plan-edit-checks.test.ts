import { OrcError, type TaskRecord, type TaskStatus } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { checkCancel, checkChanges, checkNewTasks, tasksToRemove } from './plan-edit-checks.js';

const record = (id: string, dependencies: string[] = [], status: TaskStatus = 'pending'): TaskRecord => ({
  id,
  title: id.toUpperCase(),
  description: '',
  dependencies,
  priority: 'medium',
  status,
  attempts: [],
  reworks: 0,
});

/** a ← b ← c, d alone (done), r running. */
const plan = () =>
  new Map(
    [
      record('a'),
      record('b', ['a']),
      record('c', ['b']),
      record('d', [], 'done'),
      record('r', [], 'running'),
    ].map((t) => [t.id, t]),
  );

function refusal(act: () => unknown): { code: string; message: string } {
  try {
    act();
  } catch (error) {
    if (error instanceof OrcError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('adding tasks', () => {
  it('fills in defaults and picks free ids, t<n> or the next Task Master number', () => {
    const tasks = plan();
    const specs = checkNewTasks(
      'run1',
      tasks,
      tasks.size,
      [{ title: 'New' }, { title: 'Newer', id: 't6' }],
      'names',
    );
    expect(specs.map((s) => s.id)).toEqual(['t7', 't6']);
    expect(specs[0]).toMatchObject({ description: '', dependencies: [], priority: 'medium' });
    const numbered = new Map([
      ['3', record('3')],
      ['12', record('12')],
      ['12.1', record('12.1')],
    ]);
    expect(
      checkNewTasks('run1', numbered, 3, [{ title: 'x' }, { title: 'y' }], 'numbers').map((s) => s.id),
    ).toEqual(['13', '14']);
    // Numbers the source holds beyond the run's (done tasks it left out) are taken too.
    expect(checkNewTasks('run1', numbered, 3, [{ title: 'x' }], 'numbers', 20).map((s) => s.id)).toEqual([
      '21',
    ]);
  });

  it('refuses a taken id, an unknown dependency, a cycle in the batch, and a name where Task Master has numbers', () => {
    const tasks = plan();
    expect(refusal(() => checkNewTasks('run1', tasks, 5, [{ id: 'a', title: 'x' }], 'names'))).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('has a task a already') as string,
    });
    expect(
      refusal(() =>
        checkNewTasks('run1', tasks, 5, [{ id: 'n', title: 'x', dependencies: ['zz'] }], 'names'),
      ),
    ).toMatchObject({
      code: 'TASK_NOT_FOUND',
      message: 'task n depends on "zz", which run run1 does not have; orc show run1 lists its tasks',
    });
    // Without an id of its own, the task is named by its title, not by an id it was never given.
    expect(
      refusal(() => checkNewTasks('run1', tasks, 5, [{ title: 'Extra', dependencies: ['zz'] }], 'names'))
        .message,
    ).toBe(
      'the new task "Extra" depends on "zz", which run run1 does not have; orc show run1 lists its tasks',
    );
    expect(
      refusal(() =>
        checkNewTasks(
          'run1',
          tasks,
          5,
          [
            { id: 'n1', title: 'x', dependencies: ['n2', 'a'] },
            { id: 'n2', title: 'y', dependencies: ['n1'] },
          ],
          'names',
        ),
      ),
    ).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('cycle n1 -> n2 -> n1') as string,
    });
    expect(
      refusal(() => checkNewTasks('run1', tasks, 5, [{ id: 'x', title: 'x' }], 'numbers')),
    ).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('numbers') as string,
    });
  });

  it('takes a dependency on a done task and on another new one', () => {
    const specs = checkNewTasks(
      'run1',
      plan(),
      5,
      [
        { id: 'n1', title: 'x', dependencies: ['d'] },
        { id: 'n2', title: 'y', dependencies: ['n1', 'c'] },
      ],
      'names',
    );
    expect(specs.map((s) => s.dependencies)).toEqual([['d'], ['n1', 'c']]);
  });
});

describe('changing a task', () => {
  it('refuses a cycle through the plan, naming it', () => {
    expect(refusal(() => checkChanges('run1', plan(), 'a', { dependencies: ['c'] }))).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('cycle a -> c -> b -> a') as string,
    });
    expect(refusal(() => checkChanges('run1', plan(), 'a', { dependencies: ['a'] })).code).toBe(
      'INVALID_STATE',
    );
  });

  it('refuses an unknown task or dependency, a task in flight and a done one', () => {
    expect(refusal(() => checkChanges('run1', plan(), 'zz', { title: 'x' })).code).toBe('TASK_NOT_FOUND');
    expect(refusal(() => checkChanges('run1', plan(), 'a', { dependencies: ['zz'] })).code).toBe(
      'TASK_NOT_FOUND',
    );
    expect(refusal(() => checkChanges('run1', plan(), 'r', { title: 'x' }))).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('cancel it first (orc task cancel run1 r)') as string,
    });
    expect(refusal(() => checkChanges('run1', plan(), 'd', { priority: 'high' })).message).toContain('done');
  });

  it('takes new dependencies that make no cycle, on done tasks too', () => {
    expect(checkChanges('run1', plan(), 'c', { dependencies: ['a', 'd'] }).id).toBe('c');
  });
});

describe('removing a task', () => {
  it('refuses a task with dependents unless told what becomes of them, naming them', () => {
    expect(refusal(() => tasksToRemove('run1', plan(), 'a', 'refuse'))).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('has dependents b; add --cascade') as string,
    });
    expect(tasksToRemove('run1', plan(), 'a', 'keep')).toEqual(['a']);
    expect(tasksToRemove('run1', plan(), 'a', 'cascade')).toEqual(['a', 'b', 'c']);
    expect(tasksToRemove('run1', plan(), 'c', 'refuse')).toEqual(['c']);
  });

  it('refuses to remove a task in flight or done, directly or by cascade', () => {
    const tasks = plan();
    tasks.set('w', record('w', ['a'], 'running'));
    expect(refusal(() => tasksToRemove('run1', tasks, 'a', 'cascade')).message).toContain('w (running)');
    expect(refusal(() => tasksToRemove('run1', tasks, 'd', 'refuse')).message).toContain('task d is done');
    expect(refusal(() => tasksToRemove('run1', tasks, 'zz', 'refuse')).code).toBe('TASK_NOT_FOUND');
  });

  it('refuses a done task for being done, not for its dependents: no flag would make it removable', () => {
    const tasks = plan();
    tasks.set('e', record('e', ['d']));
    for (const dependents of ['refuse', 'cascade', 'keep'] as const) {
      expect(refusal(() => tasksToRemove('run1', tasks, 'd', dependents))).toMatchObject({
        code: 'INVALID_STATE',
        message: 'task d is done and its work stands; it is not removed',
      });
    }
  });
});

describe('cancelling a task', () => {
  it('takes a task not yet finished, leaves a cancelled one, refuses a finished one', () => {
    const tasks = plan();
    tasks.set('x', record('x', [], 'cancelled'));
    tasks.set('m', record('m', [], 'merging'));
    expect(checkCancel('run1', tasks, 'a')?.id).toBe('a');
    expect(checkCancel('run1', tasks, 'r')?.id).toBe('r');
    expect(checkCancel('run1', tasks, 'x')).toBeUndefined();
    expect(refusal(() => checkCancel('run1', tasks, 'd')).code).toBe('INVALID_STATE');
    expect(refusal(() => checkCancel('run1', tasks, 'm')).message).toContain('being merged');
  });
});
