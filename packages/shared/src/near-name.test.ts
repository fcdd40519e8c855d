import { describe, expect, it } from 'vitest';
import { editDistance, nearName } from './near-name.js';

describe('nearName', () => {
  const taskFields = ['id', 'title', 'description', 'dependencies', 'details', 'touches', 'priority'];

  it('finds the key a typo or a stem meant', () => {
    expect(nearName('max_worker', ['max_workers', 'max_retries', 'max_reworks'])).toBe('max_workers');
    expect(nearName('depends', taskFields)).toBe('dependencies');
    expect(nearName('depend', taskFields)).toBe('dependencies');
    expect(nearName('titel', taskFields)).toBe('title');
    expect(nearName('Touches', taskFields)).toBe('touches');
  });

  it('suggests nothing when no known name is near', () => {
    expect(nearName('colour', taskFields)).toBeUndefined();
    expect(nearName('x', taskFields)).toBeUndefined();
    expect(nearName('deps', taskFields)).toBeUndefined();
  });

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('wroker', 'worker')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
