import { assertValidTaskGraph, firstOverlap, parseTouches } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { SIMULATED_LABEL, planFor } from './simulated-plan.js';

/** The goal `npm run demo` runs when given none: what a new user sees planned first. */
const DEMO_GOAL =
  'Write a short guide to brewing tea: choose the leaves, heat the water and time the steep, then serve it';

const titles = (goal: string) => planFor(goal).tasks.map((t) => t.title);

describe('the simulated plan', () => {
  it("titles each step on its own, as a person's plan would, not after the goal's opening words", () => {
    expect(titles(DEMO_GOAL)).toEqual([
      'Analyse the goal',
      'Choose the leaves',
      'Heat the water',
      'Time the steep',
      'Serve it',
      'Integrate and check the results',
    ]);
    // A step that opens with an article borrows the verb before it: no task is called "An FAQ".
    expect(titles('write the user guide and an FAQ').slice(1, -1)).toEqual([
      'Write the user guide',
      'Write an FAQ',
    ]);
    expect(titles('Write a guide: the intro, the examples').slice(1, -1)).toEqual([
      'Write the intro',
      'Write the examples',
    ]);
    // A list of names is not a list of steps; a list of verbs is.
    expect(titles('Write a guide for Alice, Bob and Carol')[1]).toBe(
      'Write a guide for Alice, Bob and Carol (part one)',
    );
    expect(titles('build, test and deploy').slice(1, -1)).toEqual(['Build', 'Test', 'Deploy']);
  });

  it('reads a list pasted into the goal as its steps, and a wrapped line as one', () => {
    expect(titles('Tidy the docs:\n- fix the links\n- add an index\n').slice(1, -1)).toEqual([
      'Fix the links',
      'Add an index',
    ]);
    expect(titles('1. fix the links\n2. add an index\n3. the glossary').slice(1, -1)).toEqual([
      'Fix the links',
      'Add an index',
      'Add the glossary',
    ]);
    expect(titles('Write docs\nfor the API.')[1]).toBe('Write docs for the API (part one)');
  });

  it('plans every step: past five parts, the last does the rest and says so', () => {
    const plan = planFor(
      'choose the leaves, warm the pot, heat the water, time the steep, pour it, serve it',
    );
    expect(plan.tasks.map((t) => t.title).slice(1, -1)).toEqual([
      'Choose the leaves',
      'Warm the pot',
      'Heat the water',
      'Time the steep',
      'Pour it, and 1 more step',
    ]);
    expect(plan.tasks[5]!.description).toContain(': Pour it; Serve it.');
  });

  it('keeps titles short, cut between words', () => {
    const goal = `Refactor the storage layer so that every single write goes through one durable writer`;
    const title = titles(`${goal} with group commits`)[1]!;
    expect(title.length).toBeLessThanOrEqual(80 + ' (part one)'.length);
    expect(title).toBe(
      'Refactor the storage layer so that every single write goes through one durable… (part one)',
    );
  });

  it('gives parts that run in parallel files of their own, and says how many run in parallel', () => {
    for (const goal of [
      DEMO_GOAL,
      'write the user guide',
      'write tests for the api, run tests for the api',
      'one thing',
    ]) {
      const plan = planFor(goal);
      expect(() => assertValidTaskGraph(plan.tasks, 'the plan', 'PLAN_INVALID')).not.toThrow();
      const parts = plan.tasks.filter((t) => t.dependencies.join() === 't1');
      expect(parts.length, goal).toBeGreaterThanOrEqual(2);
      for (const a of parts) {
        for (const b of parts) {
          if (a === b) continue;
          const shared = firstOverlap(parseTouches(a.touches ?? []), parseTouches(b.touches ?? []));
          expect(shared, `${goal}: ${a.id} and ${b.id}`).toBeUndefined();
        }
      }
      expect(plan.summary).toBe(
        `${SIMULATED_LABEL} analysis, ${parts.length} parts in parallel, integration.`,
      );
    }
  });

  it('is the same plan for the same goal', () => {
    expect(planFor(DEMO_GOAL)).toEqual(planFor(DEMO_GOAL));
    expect(planFor('one thing').tasks).toHaveLength(4);
  });
});
