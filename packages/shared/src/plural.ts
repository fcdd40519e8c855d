/**
 * A count with its noun, singular for one: `1 task`, `3 tasks`, `0 reworks` (`many` for a plural that
 * is not the noun and an s: `1 task waits`, `2 tasks wait` as `plural(n, 'task waits', 'tasks wait')`).
 * One helper for the daemon's texts and the screen's alike.
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
