import type { TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { DocumentTaskList, TaskChanges } from './document-task-list.js';
import { TaskText, type DocumentTask } from './run-document.js';
import { RunDocumentText, type SettledTasks } from './run-document-text.js';

const task = (n: number, status: TaskRecord['status'] = 'pending'): TaskRecord => ({
  id: `t${n}`,
  title: `task ${n}`,
  description: 'd',
  dependencies: [],
  priority: 'medium',
  status,
  attempts: [],
  reworks: 0,
});

/** A segment that holds the texts it was given, and counts what it was asked. */
class CountingSegment implements SettledTasks {
  asked = 0;
  private readonly held = new Set<DocumentTask>();
  hold(tasks: readonly DocumentTask[]): void {
    for (const t of tasks) if (t instanceof TaskText) this.held.add(t);
  }
  holds(t: DocumentTask): boolean {
    this.asked++;
    return this.held.has(t);
  }
  earlier(): DocumentTask | undefined {
    return undefined;
  }
}

const HEAD = JSON.stringify({ id: 'r1', settled: { file: 'settled.jsonl', bytes: 1 } });

async function text(list: DocumentTaskList, segment: SettledTasks): Promise<string> {
  let out = '';
  for await (const piece of list.render(HEAD, segment)) out += piece;
  return out;
}

/** The same document as RunDocumentText renders it from the whole list. */
const expected = (tasks: readonly DocumentTask[], segment: SettledTasks) =>
  [...new RunDocumentText().render({ ...JSON.parse(HEAD), tasks } as never, segment)].join('');

describe('DocumentTaskList', () => {
  it('renders what the whole list renders, and after a change asks about the changed tasks only', async () => {
    const tasks: DocumentTask[] = Array.from({ length: 2000 }, (_, i) =>
      i % 3 === 0 ? task(i, 'ready') : TaskText.of(task(i, 'done')),
    );
    const segment = new CountingSegment();
    segment.hold(tasks);
    const list = new DocumentTaskList();
    list.take(TaskChanges.whole(tasks));
    expect(await text(list, segment)).toBe(expected(tasks, segment));
    expect(list.unwritten()).toHaveLength(2000);
    list.offered();

    // Two tasks moved: one settled (its text now held), one freed.
    const settled = TaskText.of(task(3, 'done'));
    const freed = task(4, 'ready');
    tasks[3] = settled;
    tasks[4] = freed;
    list.take(TaskChanges.some([settled, freed]));
    expect(list.unwritten()).toEqual([settled, freed]);
    segment.hold([settled]);
    segment.asked = 0;
    const changed = await text(list, segment);
    expect(segment.asked).toBe(2);
    expect(changed).toBe(expected(tasks, segment));
    // Nothing changed: nothing asked, the same text.
    segment.asked = 0;
    list.offered();
    list.take(TaskChanges.some([]));
    expect(list.unwritten()).toEqual([]);
    expect(await text(list, segment)).toBe(changed);
    expect(segment.asked).toBe(0);
  });

  it('makes a line again when the run says its task changed, and every line once the segment went', async () => {
    const a = task(1, 'ready');
    const list = new DocumentTaskList();
    const segment = new CountingSegment();
    list.take([a, TaskText.of(task(2, 'done'))]);
    segment.hold(list.all());
    await text(list, segment);
    segment.asked = 0;
    list.taskChanged('t1');
    await text(list, segment);
    expect(segment.asked).toBe(1);
    list.forgetSegment();
    expect(list.unwritten()).toHaveLength(2);
    segment.asked = 0;
    await text(list, segment);
    expect(segment.asked).toBe(2);
  });

  it('takes a whole list again when tasks came or went, and appends an id a change names first', async () => {
    const list = new DocumentTaskList();
    const segment = new CountingSegment();
    list.take(TaskChanges.whole([task(1), task(2), task(3)]));
    list.take(TaskChanges.whole([task(1), task(3)]));
    expect(list.all().map((t) => t.id)).toEqual(['t1', 't3']);
    list.take(TaskChanges.some([task(9)]));
    expect(list.all().map((t) => t.id)).toEqual(['t1', 't3', 't9']);
    expect(JSON.parse(await text(list, segment))).toEqual({
      ...JSON.parse(HEAD),
      tasks: [task(1), task(3), task(9)],
    });
  });

  it('gives the event loop turns while it makes the lines of a large list, and a change told meanwhile waits for the next', async () => {
    const tasks = Array.from({ length: 100_000 }, (_, i) => task(i));
    const list = new DocumentTaskList();
    list.take(tasks);
    let turns = 0;
    // The journal tells of changes while the document is written: the task just rendered among them.
    const timer = setInterval(() => {
      turns++;
      for (let i = 0; i < 100_000; i += 512) list.taskChanged(`t${i}`);
    }, 0);
    let rendered: string;
    try {
      rendered = await text(list, new CountingSegment());
    } finally {
      clearInterval(timer);
    }
    expect(turns).toBeGreaterThan(0);
    expect(JSON.parse(rendered)).toEqual({ ...JSON.parse(HEAD), tasks });
  });
});
