/** Ids for a line of text: the first `most`, then how many more (`t1, t2, t3 and 4 more`). */
export function idList(ids: readonly string[], most: number): string {
  return ids.length <= most
    ? ids.join(', ')
    : `${ids.slice(0, most).join(', ')} and ${ids.length - most} more`;
}
