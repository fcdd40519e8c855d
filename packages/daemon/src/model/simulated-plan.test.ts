import { assertValidTaskGraph, firstOverlap, parseTouches } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { SIMULATED_LABEL, planFor } from './simulated-plan.js';

/** The goal `npm run demo` runs when given none: what a new user sees planned first. */
const DEMO_GOAL =
  'Write a short guide to brewing tea: choose the leaves, heat the water and time the steep, then serve it';

const titles = (goal: string) => planFor(goal).tasks.map((t) => t.title);
/** The parts' titles, each with the tasks it waits for. */
const waits = (goal: string) =>
  planFor(goal)
    .tasks.slice(1, -1)
    .map((t) => `${t.title} <- ${t.dependencies.join(',')}`);

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

  it('reads the words around the steps as a person would: asking, order words, sentences', () => {
    // The ", " before an empty piece is kept, and "also" is no step glued onto the one before.
    expect(titles('Please could you: translate the docs into French, and also then proofread them')).toEqual([
      'Analyse the goal',
      'Translate the docs into French',
      'Proofread them',
      'Integrate and check the results',
    ]);
    // A number ending a sentence ends it; only a number opening an item numbers one.
    expect(
      titles('Migrate from Postgres 12 to 16. Update the connection pool. Run the load tests.').slice(1, -1),
    ).toEqual(['Migrate from Postgres 12 to 16', 'Update the connection pool', 'Run the load tests']);
    expect(
      titles('Write the release notes; update the docs; finally update the changelog').slice(1, -1),
    ).toEqual(['Write the release notes', 'Update the docs', 'Update the changelog']);
    expect(titles('First, build the app. Then, test it.').slice(1, -1)).toEqual(['Build the app', 'Test it']);
    expect(titles('Please write the docs.')[1]).toBe('Write the docs (part one)');
  });

  it('gives the things listed after a colon the verb before it', () => {
    expect(titles('Document the API: endpoints, errors, and auth').slice(1, -1)).toEqual([
      'Document endpoints',
      'Document errors',
      'Document auth',
    ]);
    expect(
      titles('Write three short poems: one about rain, one about bread, one about trains').slice(1, -1),
    ).toEqual([
      'Write a short poem about rain',
      'Write a short poem about bread',
      'Write a short poem about trains',
    ]);
    // Steps after a colon keep their own verbs; a bare verb is a step, not a thing.
    expect(titles('Ship it: build, test and deploy').slice(1, -1)).toEqual(['Build', 'Test', 'Deploy']);
  });

  it('splits numbered items written on one line, when they count up from 1', () => {
    expect(
      titles('We need to 1) migrate the schema 2) backfill the data 3) switch reads').slice(1, -1),
    ).toEqual(['Migrate the schema', 'Backfill the data', 'Switch reads']);
    expect(titles('Fix the bugs 1. in the parser 2. in the lexer').slice(1, -1)).toEqual([
      'Fix the bugs in the parser',
      'Fix the bugs in the lexer',
    ]);
    expect(titles('Tidy the docs\n1. fix links\n2. add an index').slice(1, -1)).toEqual([
      'Fix links',
      'Add an index',
    ]);
  });

  it('makes a step wait for the steps before it when the goal says so; the others run in parallel', () => {
    // "Then" after a list waits for the whole list: the tea is served once the leaves, water and steep are.
    expect(waits(DEMO_GOAL)).toEqual([
      'Choose the leaves <- t1',
      'Heat the water <- t1',
      'Time the steep <- t1',
      'Serve it <- t2,t3,t4',
    ]);
    expect(planFor(DEMO_GOAL).summary).toBe(
      `${SIMULATED_LABEL} analysis, 3 parts in parallel, then 1 more, integration.`,
    );
    // A step acting on "it", and a bare verb after another, works on what the step before made.
    expect(waits('Build the landing page and test it on mobile')).toEqual([
      'Build the landing page <- t1',
      'Test it on mobile <- t2',
    ]);
    expect(waits('build, test and deploy')).toEqual(['Build <- t1', 'Test <- t2', 'Deploy <- t3']);
    expect(planFor('build, test and deploy').summary).toBe(
      `${SIMULATED_LABEL} analysis, 3 parts one after another, integration.`,
    );
    expect(waits('Write the release notes; update the docs; after that, tag the release')).toEqual([
      'Write the release notes <- t1',
      'Update the docs <- t1',
      'Tag the release <- t2,t3',
    ]);
    // Independent steps stay in parallel, and the integration waits for every part.
    expect(waits('write the user guide and an FAQ')).toEqual([
      'Write the user guide <- t1',
      'Write an FAQ <- t1',
    ]);
    expect(planFor(DEMO_GOAL).tasks.at(-1)!.dependencies).toEqual(['t2', 't3', 't4', 't5']);
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
      'Document the API: endpoints, errors, and auth',
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
      // The demo's last step waits for the others (tested above); every part of the rest starts at once.
      if (goal === DEMO_GOAL) expect(parts).toHaveLength(3);
      else {
        expect(parts).toHaveLength(plan.tasks.length - 2);
        expect(plan.summary).toBe(
          `${SIMULATED_LABEL} analysis, ${parts.length} parts in parallel, integration.`,
        );
      }
    }
  });

  it('is the same plan for the same goal', () => {
    expect(planFor(DEMO_GOAL)).toEqual(planFor(DEMO_GOAL));
    expect(planFor('one thing').tasks).toHaveLength(4);
  });
});
