import { describe, expect, it } from 'vitest';
import { looksLikePath } from './path-argument.js';

describe('looksLikePath', () => {
  it('takes slashes, a leading dot or tilde, and file extensions for paths', () => {
    for (const arg of ['tasks.txt', 'tasks.json', './nodir/', '../plan', 'docs/goal', '~/x', '.taskmaster'])
      expect(looksLikePath(arg), arg).toBe(true);
  });

  it('takes words and version numbers for a goal', () => {
    for (const arg of ['Refactor', 'v2.0', 'write a haiku', 'Summarise report.md and notes'])
      expect(looksLikePath(arg), arg).toBe(false);
  });
});
