import { describe, expect, it } from 'vitest';
import { seededRandom } from '@orc/test-support';
import { ReadyQueue, type QueuedTask } from './ready-queue.js';

function drain(queue: ReadyQueue): string[] {
  const out: string[] = [];
  for (let next = queue.pop(); next; next = queue.pop()) out.push(next.id);
  return out;
}

const task = (
  id: string,
  criticalPath: number,
  priority: QueuedTask['priority'],
  order: number,
): QueuedTask => ({
  id,
  toReview: false,
  criticalPath,
  priority,
  order,
});

describe('ReadyQueue', () => {
  it('serves the longest critical path first, then priority, then natural id order', () => {
    const queue = new ReadyQueue();
    queue.push(task('t10', 1, 'medium', 2));
    queue.push(task('t2', 1, 'medium', 1));
    queue.push(task('low-long', 5, 'low', 9));
    queue.push(task('crit', 1, 'critical', 8));
    queue.push(task('t1', 1, 'medium', 0));
    queue.push(task('high-long', 5, 'high', 7));
    queue.push(task('mid', 3, 'low', 6));
    expect(drain(queue)).toEqual(['high-long', 'low-long', 'mid', 'crit', 't1', 't2', 't10']);
  });

  it('serves a task whose answer waits for its review before any other: its work is paid for', () => {
    const queue = new ReadyQueue();
    queue.push(task('long', 9, 'critical', 0));
    queue.push({ ...task('answered', 1, 'low', 5), toReview: true });
    expect(drain(queue)).toEqual(['answered', 'long']);
  });

  it('matches a full sort on random input', () => {
    const random = seededRandom(7);
    const priorities = ['critical', 'high', 'medium', 'low'] as const;
    const tasks = Array.from({ length: 500 }, (_, i) =>
      task(`t${i}`, 1 + Math.floor(random() * 6), priorities[Math.floor(random() * 4)]!, i),
    );
    const queue = new ReadyQueue();
    for (const t of [...tasks].sort(() => random() - 0.5)) queue.push(t);
    const rank = { critical: 0, high: 1, medium: 2, low: 3 };
    const expected = [...tasks]
      .sort(
        (a, b) => b.criticalPath - a.criticalPath || rank[a.priority] - rank[b.priority] || a.order - b.order,
      )
      .map((t) => t.id);
    expect(queue.size).toBe(500);
    expect(drain(queue)).toEqual(expected);
  });

  it('drops deleted tasks, ignores duplicates and can take a task back after it left', () => {
    const queue = new ReadyQueue();
    queue.push(task('a', 3, 'medium', 0));
    queue.push(task('a', 3, 'medium', 0));
    queue.push(task('b', 2, 'medium', 1));
    queue.push(task('c', 1, 'medium', 2));
    expect(queue.size).toBe(3);
    queue.delete('a');
    expect(queue.has('a')).toBe(false);
    expect(queue.size).toBe(2);
    expect(queue.pop()?.id).toBe('b');
    queue.push(task('a', 3, 'medium', 0));
    expect(drain(queue)).toEqual(['a', 'c']);
    expect(queue.pop()).toBeUndefined();
  });
});
