import { describe, expect, it } from 'vitest';
import { addToList, editInList, removeFromList } from './plan-in-file.js';

const list = () => [
  { id: 1, title: 'One', dependencies: [], status: 'done', subtasks: [] },
  {
    id: 2,
    title: 'Two',
    dependencies: [1],
    status: 'pending',
    subtasks: [
      { id: 1, title: 'Two.1', dependencies: [] },
      { id: 2, title: 'Two.2', dependencies: [1] },
    ],
  },
  { id: 3, title: 'Three', dependencies: [2, '2.2'], status: 'pending', updatedAt: 'then', subtasks: [] },
];

describe("a person's plan edits in Task Master's task list", () => {
  it("adds top-level tasks with the file's id type, and leaves out an id the file has already", () => {
    const tasks: unknown[] = list();
    const spec = {
      id: '4',
      title: 'Four',
      description: 'd',
      dependencies: ['3', '2.2'],
      priority: 'high' as const,
    };
    const taken = { ...spec, id: '2' };
    expect(addToList(tasks, [spec, taken])).toEqual({ changed: true, result: ['4'] });
    expect(tasks.at(-1)).toMatchObject({
      id: 4,
      dependencies: [3, '2.2'],
      status: 'pending',
      priority: 'high',
    });
    const stringIds: unknown[] = [{ id: '1', title: 'One' }];
    addToList(stringIds, [{ ...spec, id: '2', dependencies: ['1'] }]);
    expect(stringIds.at(-1)).toMatchObject({ id: '2', dependencies: ['1'] });
  });

  it('changes only the fields named, stamping updatedAt where the file keeps one', () => {
    const tasks: unknown[] = list();
    expect(editInList(tasks, '3', { title: 'Three, again', dependencies: ['1'] }, 'now').result).toBe(true);
    expect(tasks[2]).toMatchObject({
      title: 'Three, again',
      dependencies: [1],
      status: 'pending',
      updatedAt: 'now',
    });
    expect(editInList(tasks, '2.1', { priority: 'low' }, 'now').result).toBe(true);
    expect(editInList(tasks, '9', { title: 'x' }, 'now')).toEqual({ changed: false, result: false });
  });

  it('removes tasks and subtasks with every dependency on them, a sibling number included', () => {
    const tasks: unknown[] = list();
    expect(removeFromList(tasks, ['2.1', '1']).result.sort()).toEqual(['1', '2.1']);
    expect(tasks).toMatchObject([
      { id: 2, dependencies: [], subtasks: [{ id: 2, dependencies: [] }] },
      { id: 3, dependencies: [2, '2.2'] },
    ]);
    removeFromList(tasks, ['2.2']);
    expect(tasks[1]).toMatchObject({ id: 3, dependencies: [2] });
  });
});
