import type { ParsedTouch, Priority } from '@orc/shared';

const PRIORITY_RANK: Record<Priority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export interface QueuedTask {
  id: string;
  /** Its answer is in and waits for its review: it goes first, the work is paid for already. */
  toReview: boolean;
  /** Tasks on the longest remaining chain go first: they bound the run's makespan. */
  criticalPath: number;
  priority: Priority;
  /** The task's place in natural id order ("t2" before "t10"), the last tie-breaker. */
  order: number;
  /** What it will touch (planned and learned), when it says. */
  touches?: readonly ParsedTouch[];
}

/** Whether `a` goes before `b`: the queue's order, for callers that merge queues. */
export function before(a: QueuedTask, b: QueuedTask): boolean {
  if (a.toReview !== b.toReview) return a.toReview;
  if (a.criticalPath !== b.criticalPath) return a.criticalPath > b.criticalPath;
  const pa = PRIORITY_RANK[a.priority];
  const pb = PRIORITY_RANK[b.priority];
  if (pa !== pb) return pa < pb;
  return a.order < b.order;
}

/**
 * The ready tasks of a run, best first: longest remaining critical path, then priority, then id. A binary
 * heap, so a run of 10,000 tasks pays O(log n) per dispatch; removal of a task that left the queue
 * (skipped, cancelled) is lazy.
 */
export class ReadyQueue {
  private readonly heap: QueuedTask[] = [];
  private readonly members = new Set<string>();

  get size(): number {
    return this.members.size;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  push(task: QueuedTask): void {
    if (this.members.has(task.id)) return;
    this.members.add(task.id);
    this.heap.push(task);
    this.siftUp(this.heap.length - 1);
  }

  /** Removes the task from the queue (it is dropped from the heap when it reaches the top). */
  delete(id: string): void {
    this.members.delete(id);
  }

  /** The best task, left in the queue. */
  peek(): QueuedTask | undefined {
    const heap = this.heap;
    while (heap.length > 0 && !this.members.has(heap[0]!.id)) {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        this.siftDown(0);
      }
    }
    return heap[0];
  }

  pop(): QueuedTask | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      const last = this.heap.pop()!;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.siftDown(0);
      }
      if (this.members.delete(top.id)) return top;
    }
    return undefined;
  }

  clear(): void {
    this.heap.length = 0;
    this.members.clear();
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < heap.length && before(heap[l]!, heap[best]!)) best = l;
      if (r < heap.length && before(heap[r]!, heap[best]!)) best = r;
      if (best === i) return;
      [heap[i], heap[best]] = [heap[best]!, heap[i]!];
      i = best;
    }
  }
}
