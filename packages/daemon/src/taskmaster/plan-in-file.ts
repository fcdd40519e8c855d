import type { TaskChanges, TaskSpec } from '@orc/shared';
import { isJsonObject, type JsonObject } from './taskmaster-file.js';
import { idOf, touched, tryFindEntry, type Change } from './write-back.js';

/**
 * A person's edits of a running plan, as Task Master's file shows them: changes to the tag's task list,
 * made under Task Master's lock by the write-back's queue. Ids keep the file's own type (most files store
 * 7, some "7"); a subtask is `"7.2"` as a dependency. Only the fields the edit names change.
 */

/** New top-level tasks, `pending`. A task whose id the file has already (left out of the run) is not written. */
export function addToList(list: unknown[], specs: readonly TaskSpec[]): Change<string[]> {
  const stringIds = isJsonObject(list[0]) && typeof list[0].id === 'string';
  const written: string[] = [];
  for (const spec of specs) {
    if (spec.id.includes('.') || tryFindEntry(list, spec.id) !== undefined) continue;
    list.push({
      id: stringIds ? spec.id : Number(spec.id),
      title: spec.title,
      description: spec.description,
      details: spec.details ?? '',
      testStrategy: '',
      priority: spec.priority,
      dependencies: fileDependencies(spec.dependencies, stringIds),
      status: 'pending',
      subtasks: [],
    });
    written.push(spec.id);
  }
  return { changed: written.length > 0, result: written };
}

/** A task's (or subtask's) title, description, dependencies or priority; false when the file lacks it. */
export function editInList(list: unknown[], id: string, changes: TaskChanges, at: string): Change<boolean> {
  const entry = tryFindEntry(list, id);
  if (!entry) return { changed: false, result: false };
  const stringIds = isJsonObject(list[0]) && typeof list[0].id === 'string';
  if (changes.title !== undefined) entry.title = changes.title;
  if (changes.description !== undefined) entry.description = changes.description;
  if (changes.priority !== undefined) entry.priority = changes.priority;
  if (changes.dependencies !== undefined)
    entry.dependencies = id.includes('.')
      ? [...changes.dependencies]
      : fileDependencies(changes.dependencies, stringIds);
  touched(entry, at, true);
  return { changed: true, result: true };
}

/** Tasks and subtasks taken out of the tag, and every dependency on them with them. */
export function removeFromList(list: unknown[], ids: readonly string[]): Change<string[]> {
  const gone = new Set(ids);
  const removed: string[] = [];
  const keep = (entry: unknown, parent: string | undefined): boolean => {
    if (!isJsonObject(entry)) return true;
    const own = idOf(entry.id);
    const id = parent === undefined ? own : `${parent}.${own ?? ''}`;
    if (id === undefined || !gone.has(id)) return true;
    removed.push(id);
    return false;
  };
  for (let i = list.length - 1; i >= 0; i--) if (!keep(list[i], undefined)) list.splice(i, 1);
  for (const task of list) {
    if (!isJsonObject(task)) continue;
    const parent = idOf(task.id);
    if (Array.isArray(task.subtasks)) task.subtasks = task.subtasks.filter((sub) => keep(sub, parent));
    unlink(task, gone, undefined);
    for (const sub of Array.isArray(task.subtasks) ? task.subtasks : []) {
      if (isJsonObject(sub)) unlink(sub, gone, parent);
    }
  }
  return { changed: removed.length > 0, result: removed };
}

/** Drops the entry's dependencies on removed tasks (a subtask's bare numbers name its siblings). */
function unlink(entry: JsonObject, gone: ReadonlySet<string>, parent: string | undefined): void {
  if (!Array.isArray(entry.dependencies)) return;
  entry.dependencies = entry.dependencies.filter((dep) => {
    const text = String(dep);
    const id = parent !== undefined && !text.includes('.') ? `${parent}.${text}` : text;
    return !gone.has(id) && !gone.has(text);
  });
}

/** Dependencies as Task Master writes them for a top-level task: numbers (or the file's strings), "7.2" for subtasks. */
function fileDependencies(dependencies: readonly string[], stringIds: boolean): (string | number)[] {
  return dependencies.map((dep) => (dep.includes('.') || stringIds ? dep : Number(dep)));
}
