import type { TaskRecord } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { reviewPrompt, runContext, workPrompt } from './prompts.js';

function task(i: number, description = `Write part ${i} with two examples.`): TaskRecord {
  return {
    id: `t${i}`,
    title: `Part ${i}`,
    description,
    dependencies: [],
    priority: 'medium',
    status: 'pending',
    attempts: [],
    reworks: 0,
  };
}

describe('the stable prompt prefix', () => {
  it('holds the goal and every task of the plan, the same for every worker and review call', () => {
    const tasks = Array.from({ length: 50 }, (_, i) => task(i + 1));
    const context = runContext('Write the field guide', 'Fifty parts.', tasks, tasks.length);
    expect(context).toContain('The goal of this run:\nWrite the field guide');
    expect(context).toContain('Its tasks (50; each worker does one of them):');
    for (const t of tasks) expect(context).toContain(`- ${t.id}: ${t.title} — ${t.description}`);

    const work = [
      workPrompt(context, tasks[0]!, [], undefined),
      workPrompt(context, tasks[9]!, [], 'Redo it.'),
    ];
    // The prefix is the system prompt; only the role differs between workers and reviews.
    expect(work[0]!.system).toBe(work[1]!.system);
    expect(work[0]!.system.endsWith(context)).toBe(true);
    expect(work[1]!.prompt).toMatch(/^# Task t10: Part 10/);
    expect(work[1]!.prompt).toContain('Redo it.');
    expect(work[0]!.system).not.toContain('# Task');
    const review = reviewPrompt(context, tasks[3]!, 'The result.');
    expect(review.system.endsWith(context)).toBe(true);
    expect(review.prompt).toContain('The result.');
  });

  it('is bounded: a long plan shows its first tasks and how many more, descriptions are cut', () => {
    const tasks = Array.from({ length: 2000 }, (_, i) => task(i + 1, 'x'.repeat(1000)));
    const context = runContext('A big goal', undefined, tasks, tasks.length);
    expect(context.length).toBeLessThan(25_000);
    expect(context).toMatch(/- … and \d+ more tasks$/);
    expect(context).not.toContain('x'.repeat(500));
  });
});
