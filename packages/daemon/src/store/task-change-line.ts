import type { TaskRecord } from '@orc/shared';
import { TaskText, type DocumentTask } from './run-document.js';

/** How a change line begins: `{"@":"<id>", <the fields that changed>}`. */
export const CHANGE_LINE_START = '{"@":';

/**
 * A task's line in the run document as a change from the record the settled segment holds of it: its
 * id under "@", then the top-level fields that differ. A ready task is the waiting record the segment
 * holds with its status and `readyAt` changed: written whole, the ~6,000 ready tasks at half of a
 * 100,000-task run were 1.4 MB of its 2.4 MB document (a task's description is written once, not at
 * every rewrite). Undefined when the segment holds nothing earlier for the task, or a field of that went
 * (a change line only sets fields).
 */
export function changeLineOf(task: TaskRecord, earlier: DocumentTask | undefined): string | undefined {
  if (earlier === undefined) return undefined;
  const base = (earlier instanceof TaskText ? earlier.record() : earlier) as unknown as Record<
    string,
    unknown
  >;
  const record = task as unknown as Record<string, unknown>;
  for (const key in base) if (base[key] !== undefined && record[key] === undefined) return undefined;
  const change: Record<string, unknown> = { '@': task.id };
  for (const key in record) {
    const value = record[key];
    if (value === undefined) continue;
    const was = base[key];
    if (value === was) continue;
    if (typeof value === 'object' && value !== null && JSON.stringify(value) === JSON.stringify(was))
      continue;
    change[key] = value;
  }
  return JSON.stringify(change);
}

/**
 * The record a change line stands for: the segment's record of the task with the line's fields set.
 * Undefined when the line is not a change line; throws when the segment lacks the task (`lacks`).
 */
export function recordOfChangeLine(
  json: string,
  settled: ReadonlyMap<string, TaskText>,
  lacks: (id: string) => Error,
): Record<string, unknown> | undefined {
  let change: unknown;
  try {
    change = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof change !== 'object' || change === null) return undefined;
  const { '@': id, ...fields } = change as Record<string, unknown>;
  if (typeof id !== 'string') return undefined;
  const base = settled.get(id);
  if (base === undefined) throw lacks(id);
  return Object.assign(base.record(), fields);
}
