import { describe, expect, it } from 'vitest';
import { taskMatcher } from './task-page.js';

const task = (id: string, title: string, status: 'pending' | 'done' = 'pending') => ({ id, title, status });

describe('taskMatcher', () => {
  it('matches a search in the id or title whatever its case, and only the statuses asked for', () => {
    const search = taskMatcher({ search: 'INTRO' });
    expect(search(task('t1', 'Write the intro'))).toBe(true);
    expect(search(task('intro-2', 'Something'))).toBe(true);
    expect(search(task('t3', 'Outro'))).toBe(false);
    const done = taskMatcher({ status: ['done'], search: 'intro' });
    expect(done(task('t1', 'Write the intro'))).toBe(false);
    expect(done(task('t1', 'Write the intro', 'done'))).toBe(true);
    expect(taskMatcher({})(task('t1', 'x'))).toBe(true);
  });

  it('takes the search as text, not as a pattern, and folds the case of any letter', () => {
    expect(taskMatcher({ search: 'a.b' })(task('t1', 'axb'))).toBe(false);
    expect(taskMatcher({ search: 'a.b (v2)*' })(task('t1', 'Fix A.B (V2)* now'))).toBe(true);
    expect(taskMatcher({ search: '[' })(task('t1', 'x[y'))).toBe(true);
    expect(taskMatcher({ search: 'ÉCRIRE' })(task('t1', 'écrire la doc'))).toBe(true);
  });
});
