import type { TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import type { RunDocument } from './run-document.js';
import { RunDocumentText } from './run-document-text.js';

const task = (n: number): TaskRecord => ({
  id: `t${n}`,
  title: `task ${n}`,
  description: 'd',
  dependencies: n > 1 ? [`t${n - 1}`] : [],
  priority: 'medium',
  status: 'pending',
  attempts: [],
  reworks: 0,
});

function doc(tasks: TaskRecord[], status: RunDocument['status'] = 'executing'): RunDocument {
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  return {
    version: 1,
    id: 'r1',
    goal: 'g',
    status,
    models: {
      manager: { provider: 'simulated', model: 'opus' },
      worker: { provider: 'simulated', model: 'sonnet' },
      simulated: true,
    },
    config: {},
    createdAt: 'a',
    updatedAt: 'b',
    tasks,
    importedTasks: true,
    usage,
    costUsd: 0,
    lastEventId: 3,
    checkpoints: [],
    tasksDoneSinceCheckpoint: 0,
  };
}

const parse = (pieces: Iterable<string>) => JSON.parse([...pieces].join('')) as RunDocument;
/** Rendered and taken whole, as a write takes it. */
const render = (text: RunDocumentText, d: RunDocument) => [...text.render(d)];

describe('RunDocumentText', () => {
  it('renders the same document JSON.stringify does, newline-terminated', () => {
    const text = new RunDocumentText();
    const d = doc([task(1), task(2)]);
    const pieces = render(text, d);
    expect(pieces.join('').endsWith('}\n')).toBe(true);
    expect(parse(pieces)).toEqual(JSON.parse(JSON.stringify(d)));
    expect(parse(render(text, doc([])))).toEqual(JSON.parse(JSON.stringify(doc([]))));
  });

  it('re-serialises only the tasks it was told changed', () => {
    const text = new RunDocumentText();
    const [a, b, c] = [task(1), task(2), task(3)];
    render(text, doc([a, b, c]));
    a.status = 'done';
    b.status = 'ready';
    text.taskChanged('t1');
    const rendered = parse(render(text, doc([a, b, c])));
    expect(rendered.tasks.map((t) => t.status)).toEqual(['done', 'pending', 'pending']);
    // The change was rendered once; a later change still needs telling.
    a.reworks = 5;
    expect(parse(render(text, doc([a, b, c]))).tasks[0]!.reworks).toBe(0);
  });

  it('re-serialises a task replaced by another object, and forgets removed ones', () => {
    const text = new RunDocumentText();
    render(text, doc([task(1), task(2)]));
    const replaced = { ...task(1), status: 'done' as const };
    expect(parse(render(text, doc([replaced]))).tasks).toEqual([replaced]);
  });

  it("keeps an unchanged record's text whatever the run's status (records are immutable)", () => {
    const text = new RunDocumentText();
    const a = task(1);
    render(text, doc([a], 'analyzing'));
    // Changed in place, which the engine never does: the cached text shows it was not serialised again.
    a.title = 'changed in place';
    for (const status of ['analyzing', 'executing', 'completed'] as const)
      expect(parse(render(text, doc([a], status))).tasks[0]!.title).toBe('task 1');
    const replaced = { ...a, status: 'done' as const };
    expect(parse(render(text, doc([replaced], 'completed'))).tasks[0]).toEqual(replaced);
  });

  it('writes the document of the instant it was rendered, however long the writing takes', () => {
    const text = new RunDocumentText();
    const a = task(1);
    render(text, doc([a]));
    const tasks = [a, task(2)];
    const pieces = text.render(doc(tasks));
    // The run replaces records (it never changes one in place) and lists other tasks meanwhile.
    tasks[0] = { ...a, status: 'ready' };
    tasks.pop();
    expect(parse(pieces).tasks.map((t) => [t.id, t.status])).toEqual([
      ['t1', 'pending'],
      ['t2', 'pending'],
    ]);
    // A change told while a rendering is being written is the next rendering's.
    const b = task(1);
    render(text, doc([b]));
    const during = text.render(doc([b]));
    text.taskChanged('t1');
    b.title = 'changed';
    expect(parse(during).tasks[0]!.title).toBe('task 1');
    expect(parse(text.render(doc([b]))).tasks[0]!.title).toBe('changed');
  });
});
