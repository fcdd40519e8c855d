import { describe, expect, it } from 'vitest';
import { idList } from './id-list.js';

describe('idList', () => {
  it('names them all up to `most`, then how many more', () => {
    expect(idList([], 3)).toBe('');
    expect(idList(['a', 'b', 'c'], 3)).toBe('a, b, c');
    expect(idList(['a', 'b', 'c', 'd', 'e'], 3)).toBe('a, b, c and 2 more');
  });
});
