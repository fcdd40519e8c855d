import { describe, expect, it } from 'vitest';
import { criticalPath } from './critical-path.js';
import { countLines } from './lines-changed.js';
import { ReasonGroups, reasonKey } from './reason-groups.js';
import { planFor } from '../model/simulated-plan.js';
import { kindOf } from './runs-report.js';

describe('the parts of a report', () => {
  it('groups reasons that differ in numbers, paths, ids and quoted text, most frequent first', () => {
    expect(reasonKey('Test 3 fails in src/a.ts.')).toBe(reasonKey('Test 12 fails in lib/b/c.ts. More text.'));
    expect(reasonKey('Name "foo" is wrong')).toBe(reasonKey("Name 'bar' is wrong"));
    expect(reasonKey('commit 3f2a9c1d is missing')).toBe(reasonKey('commit 9ab0c12 is missing'));
    expect(reasonKey('Add tests')).not.toBe(reasonKey('Add docs'));
    const groups = new ReasonGroups();
    groups.add('Add docs.', 'a');
    groups.add('Test 3 fails.', 'a');
    groups.add('Test 4 fails.', 'b');
    groups.add('   ', 'c');
    expect(groups.top()).toEqual([
      { reason: 'Test 3 fails.', count: 2, tasks: ['a', 'b'] },
      { reason: 'Add docs.', count: 1, tasks: ['a'] },
    ]);
  });

  it('finds the longest chain by duration through a deep graph without recursion', () => {
    const nodes = [
      { id: 'a', dependencies: [] },
      { id: 'b', dependencies: ['a'] },
      { id: 'c', dependencies: ['a'] },
      { id: 'd', dependencies: ['b', 'c', 'gone'] },
    ];
    const ms: Record<string, number> = { a: 1, b: 5, c: 7, d: 2 };
    expect(criticalPath(nodes, (id) => ms[id]!)).toEqual({ ms: 10, path: ['a', 'c', 'd'] });
    expect(criticalPath([], () => 1)).toEqual({ ms: 0, path: [] });
    const chain = Array.from({ length: 50_000 }, (_, i) => ({
      id: `t${i}`,
      dependencies: i === 0 ? [] : [`t${i - 1}`],
    }));
    const long = criticalPath(chain, () => 1);
    expect(long.ms).toBe(50_000);
    expect(long.path).toHaveLength(50_000);
  });

  it('counts lines added and removed in a diff, headers aside', () => {
    const diff = [
      'diff --git a/x.ts b/x.ts',
      '--- a/x.ts',
      '+++ b/x.ts',
      '@@ -1,2 +1,3 @@',
      ' same',
      '-old',
      '+new',
      '+more',
    ].join('\n');
    expect(countLines(diff)).toEqual({ added: 2, removed: 1 });
  });

  it("names a task's kind by the first word of its title that says what it does", () => {
    expect(kindOf('Add login form')).toBe('add');
    expect(kindOf('  "Fix" the bug')).toBe('fix');
    expect(kindOf('123')).toBe('(untitled)');
    // Never an article, a pronoun or a connective: `orc report --since 7d` listed a kind called "an".
    expect(kindOf('An FAQ for the API')).toBe('faq');
    expect(kindOf('Then write the intro')).toBe('write');
    expect(kindOf("Let's add the tests")).toBe('add');
    expect(kindOf('Please fix it')).toBe('fix');
    expect(kindOf('v2: migrate the routes')).toBe('migrate');
    expect(kindOf('The')).toBe('(untitled)');
    // The simulated plan's titles are named by their verbs too.
    expect(planFor('write the user guide and an FAQ').tasks.map((t) => kindOf(t.title))).toEqual([
      'analyse',
      'write',
      'write',
      'integrate',
    ]);
  });
});
