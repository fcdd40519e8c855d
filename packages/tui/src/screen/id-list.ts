/** Task ids for a line of text: the first six, then how many more (`t1, t2, … and 4 more`). */
export function idList(ids: readonly string[]): string {
  return ids.length <= 6 ? ids.join(', ') : `${ids.slice(0, 6).join(', ')} and ${ids.length - 6} more`;
}
