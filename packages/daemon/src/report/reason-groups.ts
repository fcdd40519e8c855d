import type { ReasonGroup } from '@orc/shared';

/** Reasons shown per report; the rest are in the JSON's counts only through their groups' absence. */
const MOST_GROUPS = 10;
/** Enough of a reason to tell groups apart; managers' feedback runs to paragraphs. */
const KEY_CHARS = 80;

/**
 * Groups reasons that say the same thing about different things: numbers, quoted text, paths and ids
 * are blanked before comparing, so "test 3 fails in src/a.ts" and "test 7 fails in src/b.ts" count
 * together. Most frequent first.
 */
export class ReasonGroups {
  private readonly groups = new Map<string, { reason: string; count: number; tasks: Set<string> }>();

  /**
   * The task's id is blanked too, in the key and in the reason shown: a task's error names it ("task
   * setup-db would pass the cost cap of a task…"), and two tasks stopped at the same cap were counted
   * apart, the first one's id then standing for both.
   */
  add(reason: string, taskId: string | undefined): void {
    const text = taskId === undefined ? reason.trim() : withoutId(reason.trim(), taskId);
    if (text === '') return;
    const key = reasonKey(text);
    let group = this.groups.get(key);
    if (!group) {
      group = { reason: firstSentence(text), count: 0, tasks: new Set() };
      this.groups.set(key, group);
    }
    group.count += 1;
    if (taskId !== undefined) group.tasks.add(taskId);
  }

  addAll(groups: readonly ReasonGroup[]): void {
    for (const group of groups) {
      const key = reasonKey(group.reason);
      const known = this.groups.get(key) ?? { reason: group.reason, count: 0, tasks: new Set<string>() };
      known.count += group.count;
      for (const task of group.tasks) known.tasks.add(task);
      this.groups.set(key, known);
    }
  }

  top(limit = MOST_GROUPS): ReasonGroup[] {
    return [...this.groups.values()]
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
      .slice(0, limit)
      .map((group) => ({ reason: group.reason, count: group.count, tasks: [...group.tasks] }));
  }
}

export function reasonKey(reason: string): string {
  return firstSentence(reason)
    .toLowerCase()
    .replace(/(["'`]).*?\1/g, '…')
    .replace(/[\w./-]*[/\\][\w./-]*/g, '…')
    .replace(/\b[0-9a-f]{7,}\b/g, '…')
    .replace(/\d+(\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, KEY_CHARS);
}

function firstSentence(text: string): string {
  const line = text.split('\n')[0]!.trim();
  const end = line.search(/[.!?](\s|$)/);
  const sentence = end > 0 ? line.slice(0, end + 1) : line;
  return sentence.length > 200 ? `${sentence.slice(0, 199)}…` : sentence;
}

/** `reason` with the task's id, where it stands as a word, read as "…". */
function withoutId(reason: string, taskId: string): string {
  if (taskId === '') return reason;
  const id = taskId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return reason.replace(new RegExp(`(?<![\\w-])${id}(?![\\w-])`, 'g'), '…');
}
