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

const parse = (pieces: string[]) => JSON.parse(pieces.join('')) as RunDocument;

describe('RunDocumentText', () => {
  it('renders the same document JSON.stringify does, newline-terminated', () => {
    const text = new RunDocumentText();
    const d = doc([task(1), task(2)]);
    const pieces = text.render(d);
    expect(pieces.join('').endsWith('}\n')).toBe(true);
    expect(parse(pieces)).toEqual(JSON.parse(JSON.stringify(d)));
    expect(parse(text.render(doc([])))).toEqual(JSON.parse(JSON.stringify(doc([]))));
  });

  it('re-serialises only the tasks it was told changed, and those in flight', () => {
    const text = new RunDocumentText();
    const [a, b, c] = [task(1), task(2), task(3)];
    text.render(doc([a, b, c]));
    a.status = 'done';
    b.status = 'ready';
    c.status = 'running';
    text.taskChanged('t1');
    const rendered = parse(text.render(doc([a, b, c])));
    expect(rendered.tasks.map((t) => t.status)).toEqual(['done', 'pending', 'running']);
    // The change was rendered once; a later change still needs telling.
    a.reworks = 5;
    expect(parse(text.render(doc([a, b, c]))).tasks[0]!.reworks).toBe(0);
  });

  it('re-serialises a task replaced by another object, and forgets removed ones', () => {
    const text = new RunDocumentText();
    text.render(doc([task(1), task(2)]));
    const replaced = { ...task(1), status: 'done' as const };
    expect(parse(text.render(doc([replaced]))).tasks).toEqual([replaced]);
  });

  it('re-serialises everything when the run is not executing or its status changed', () => {
    const text = new RunDocumentText();
    const a = task(1);
    text.render(doc([a], 'analyzing'));
    a.title = 'renamed while analyzing';
    expect(parse(text.render(doc([a], 'analyzing'))).tasks[0]!.title).toBe('renamed while analyzing');
    a.title = 'renamed as it started';
    expect(parse(text.render(doc([a], 'executing'))).tasks[0]!.title).toBe('renamed as it started');
    a.title = 'renamed as it was cancelled';
    expect(parse(text.render(doc([a], 'cancelled'))).tasks[0]!.title).toBe('renamed as it was cancelled');
  });

  it('keeps the rendered text when records change after rendering', () => {
    const text = new RunDocumentText();
    const a = task(1);
    text.render(doc([a]));
    a.status = 'ready';
    text.taskChanged('t1');
    const pieces = text.render(doc([a]));
    a.status = 'running';
    expect(parse(pieces).tasks[0]!.status).toBe('ready');
  });
});
