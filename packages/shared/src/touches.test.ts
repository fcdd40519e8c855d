import { describe, expect, it } from 'vitest';
import { Plan } from './plan.js';
import { TaskSpec } from './task.js';
import { fileWaits, firstOverlap, parseTouches, patternsOverlap, touchesOf, Touches } from './touches.js';

const overlap = (a: string, b: string): boolean => patternsOverlap(a.split('/'), b.split('/'));

describe('patternsOverlap', () => {
  it.each([
    ['src/a.ts', 'src/a.ts'],
    ['src/**', 'src/ui/list.ts'],
    ['src/ui', 'src/ui/list.ts'],
    ['src/*.ts', 'src/a.ts'],
    ['src/*.ts', 'src/*'],
    ['src/**/*.test.ts', 'src/ui/list.test.ts'],
    ['src/**/list.ts', 'src/list.ts'],
    ['**', 'README.md'],
    ['**/*.md', 'docs/guide/intro.md'],
    ['src/a?.ts', 'src/ab.ts'],
    ['src/{a,b}.ts', 'src/b.ts'],
    ['src/[ab].ts', 'src/a.ts'],
    ['src/ui/**', 'src/*/list.ts'],
    // A path names a file or a directory: src/ui/list.ts/a.test.ts would match both.
    ['src/**/*.test.ts', 'src/ui/list.ts'],
  ])('%s and %s overlap', (a, b) => {
    expect(overlap(a, b)).toBe(true);
    expect(overlap(b, a)).toBe(true);
  });

  it.each([
    ['src/a.ts', 'src/b.ts'],
    ['src/ui/**', 'src/api/**'],
    ['src/*.ts', 'src/a.js'],
    ['docs/*.md', 'src/a.md'],
    ['src/**/*.test.ts', 'lib/list.test.ts'],
    ['src/**/*.test.ts', 'lib/**'],
    ['lib/**', 'src/lib/a.ts'],
    ['src/ui/*.ts', 'src/ui/deep/a.ts'],
  ])('%s and %s do not', (a, b) => {
    expect(overlap(a, b)).toBe(false);
    expect(overlap(b, a)).toBe(false);
  });

  it('is cheap enough to compare every pair of a wide plan', () => {
    // Not a timing test (the bench measures): many ** in both patterns still end.
    expect(overlap('**/a/**/b/**/c/**/d', '**/x/**/y/**/z/**/w')).toBe(true);
    expect(overlap('a/**/b/**/c/**/d/**/e.ts', 'b/q/w/e/r/t/y/u/i/o/p/*.js/*.md')).toBe(false);
  });
});

describe('Touches', () => {
  it('normalises paths and refuses what names nothing in the repository', () => {
    expect(Touches.parse(['./src//ui/', 'src/**/', 'a/./b'])).toEqual(['src/ui', 'src/**', 'a/b']);
    const refused = Touches.safeParse(['/etc/passwd', 'src/../../x', '.', 'C:/x']);
    expect(refused.error?.issues.map((i) => i.message)).toEqual([
      'touched paths are relative to the repository root (no leading "/")',
      'touched paths may not contain ".."',
      'a touched path must name something under the repository root',
      'touched paths are relative to the repository root (no leading "/")',
    ]);
  });

  it('is a task file field, and a plan field the model must answer ([] when a plan left it out)', () => {
    expect(TaskSpec.parse({ id: 't1', title: 'x', touches: ['src/a.ts'] }).touches).toEqual(['src/a.ts']);
    expect(TaskSpec.parse({ id: 't1', title: 'x' }).touches).toBeUndefined();
    const plan = Plan.parse({
      summary: 's',
      tasks: [{ id: 't1', title: 'x', description: '', dependencies: [], priority: 'low' }],
    });
    expect(plan.tasks[0]!.touches).toEqual([]);
  });
});

describe('fileWaits', () => {
  it('names the path and the task in flight each ready task waits for; a task with no touches waits for none', () => {
    const waits = fileWaits([
      { id: 't3', status: 'running', touches: ['src/x.ts'] },
      { id: 't4', status: 'merging', touched: ['docs/guide.md'] },
      { id: 't5', status: 'ready', touches: ['src/**'] },
      { id: 't6', status: 'ready', touches: ['docs/*.md', 'lib/y.ts'] },
      { id: 't7', status: 'ready' },
      { id: 't8', status: 'ready', touches: ['lib/z.ts'] },
      { id: 't9', status: 'pending', touches: ['src/x.ts'] },
    ]);
    expect(Object.fromEntries(waits)).toEqual({
      t5: { path: 'src/**', holder: 't3' },
      t6: { path: 'docs/*.md', holder: 't4' },
    });
  });

  it('counts what a task planned and what its diff changed', () => {
    expect(touchesOf({ touches: ['a'], touched: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(firstOverlap(parseTouches(['x', 'b/c']), parseTouches(['b/**']))).toBe('b/c');
  });
});
