import { describe, expect, it } from 'vitest';
import { naturalRanks } from './natural-order.js';

const sorted = (ids: string[]) => {
  const ranks = naturalRanks(ids);
  return [...ids].sort((a, b) => ranks[ids.indexOf(a)]! - ranks[ids.indexOf(b)]!);
};

describe('naturalRanks', () => {
  it('orders numbers by value, letters aside from case, punctuation first', () => {
    expect(sorted(['t10', 't2', 't1', 't02', 'T3'])).toEqual(['t1', 't02', 't2', 'T3', 't10']);
    expect(sorted(['1.10', '1.2', '1.1', '2', '10', '1'])).toEqual(['1', '1.1', '1.2', '1.10', '2', '10']);
    expect(sorted(['b', 'a-1', 'a1', 'a_1', 'a.1'])).toEqual(['a-1', 'a.1', 'a_1', 'a1', 'b']);
  });

  it('agrees with a numeric collator on ids like the ones runs use', () => {
    const collator = new Intl.Collator('en', { numeric: true });
    const ids = Array.from({ length: 2_000 }, (_, i) =>
      i % 3 === 0 ? `t${i}` : i % 3 === 1 ? `${i % 17}.${i}` : `task-${(i * 7919) % 1000}`,
    );
    expect(sorted(ids)).toEqual([...ids].sort(collator.compare));
  });
});
