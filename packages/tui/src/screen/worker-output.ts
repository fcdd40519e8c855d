import { plainText } from './text-cells.js';

const KEEP_CHARS = 16_000;

/** The streamed output of each worker's current task, trimmed to what a pane can show. */
export class WorkerOutputs {
  private readonly byWorker = new Map<number, { taskId: string; text: string }>();

  /** A new attempt starts with an empty pane. */
  start(worker: number, taskId: string): void {
    this.byWorker.set(worker, { taskId, text: '' });
  }

  append(worker: number, taskId: string, text: string): void {
    let entry = this.byWorker.get(worker);
    if (entry?.taskId !== taskId) {
      entry = { taskId, text: '' };
      this.byWorker.set(worker, entry);
    }
    entry.text += plainText(text);
    if (entry.text.length > KEEP_CHARS) entry.text = entry.text.slice(entry.text.length - KEEP_CHARS / 2);
  }

  /** The worker whose pane shows `taskId`, if one does. */
  workerOf(taskId: string): number | undefined {
    for (const [worker, entry] of this.byWorker) if (entry.taskId === taskId) return worker;
    return undefined;
  }

  /** What the worker wrote for `taskId` (empty when it has not written yet). */
  text(worker: number, taskId: string): string {
    const entry = this.byWorker.get(worker);
    return entry?.taskId === taskId ? entry.text : '';
  }

  clear(): void {
    this.byWorker.clear();
  }
}

/** The last `rows` lines of `text` wrapped at `width` cells, oldest first. */
export function tailLines(text: string, rows: number, width: number): string[] {
  if (rows <= 0 || width <= 0) return [];
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0 && out.length < rows; i--) {
    const line = lines[i]!;
    const chunks: string[] = [];
    for (let at = 0; at < line.length || chunks.length === 0; at += width)
      chunks.push(line.slice(at, at + width));
    out.unshift(...chunks.slice(Math.max(0, chunks.length - (rows - out.length))));
  }
  return out;
}
