import { plural, type Plan } from '@orc/shared';
import { DETERMINERS, stepsOf, titleOf, type GoalStep } from './goal-steps.js';

/** Marks every simulated answer, so nobody mistakes it for a model's. */
export const SIMULATED_LABEL = '[simulated]';

/** Words a folder name leaves out, so "choose the leaves" lives in `src/choose-leaves/`. */
const FILLERS = new Set([...DETERMINERS, ...'and or of to for in on at by with from into it'.split(' ')]);

const MAX_PARTS = 5;

/**
 * The simulated manager's plan: an analysis task first, one task per step of the goal (see goal-steps.ts),
 * then an integration task that depends on them all. A goal of one step is planned in two halves. The parts
 * run in parallel, each touching its own folder and no other file, except a step that comes after the ones
 * before it ("…, then serve it", "build, test and deploy"): it waits for them.
 * Deterministic: the same goal gets the same plan, whatever the seed.
 */
export function planFor(goal: string): Plan {
  const parts = partsOf(goal);
  const folders = uniqueFolders(parts.map((p) => p.title));
  const idOf = (i: number) => `t${i + 2}`;
  const stages: number[][] = [];
  for (const [i, part] of parts.entries()) {
    if (part.after || stages.length === 0) stages.push([i]);
    else stages.at(-1)!.push(i);
  }
  const tasks: Plan['tasks'] = [
    {
      id: 't1',
      title: 'Analyse the goal',
      description: `Work out what "${goal}" requires.`,
      dependencies: [],
      priority: 'high',
      touches: ['docs/plan.md'],
    },
  ];
  for (const [s, stage] of stages.entries()) {
    for (const i of stage) {
      const part = parts[i]!;
      tasks.push({
        id: idOf(i),
        title: part.title,
        description:
          part.steps.length === 1
            ? `${part.title}: one step of the goal "${goal}".`
            : `The last steps of the goal "${goal}": ${part.steps.join('; ')}.`,
        // A stage waits for the whole stage before it: "A, B and C, then D" serves what all three made.
        dependencies: s === 0 ? ['t1'] : stages[s - 1]!.map(idOf),
        priority: 'medium',
        touches: [`src/${folders[i]!}/**`],
      });
    }
  }
  tasks.push({
    id: `t${parts.length + 2}`,
    title: 'Integrate and check the results',
    description: 'Bring the parts together and check them against the goal.',
    // All of them, not only the last stage: a worker sees the results of the tasks it depends on.
    dependencies: parts.map((_, i) => idOf(i)),
    priority: 'medium',
    touches: ['src/**', 'README.md'],
  });
  // The CLI and the screen say "planned 6 tasks: " before the summary: it does not count them again.
  return { summary: `${SIMULATED_LABEL} analysis, ${shapeOf(stages)}, integration.`, tasks };
}

/** "4 parts in parallel", "3 parts one after another", "3 parts in parallel, then 1 more". */
function shapeOf(stages: readonly (readonly number[])[]): string {
  const parts = stages.reduce((n, stage) => n + stage.length, 0);
  if (stages.length === 1) return `${parts} parts in parallel`;
  if (stages.length === parts) return `${parts} parts one after another`;
  return stages
    .map((stage, s) => {
      const n = stage.length;
      if (s === 0) return n === 1 ? '1 part' : `${n} parts in parallel`;
      return n === 1 ? 'then 1 more' : `then ${n} more in parallel`;
    })
    .join(', ');
}

/**
 * The parts a goal is planned in: a task per step, at most MAX_PARTS (the last does the steps beyond too,
 * and says so, rather than a step going unplanned), or two halves of a goal of one step.
 */
function partsOf(goal: string): { title: string; steps: string[]; after: boolean }[] {
  const steps = stepsOf(goal);
  if (steps.length < 2) {
    const whole = steps[0]?.title ?? titleOf(goal);
    return ['one', 'two'].map((n) => ({
      title: `${whole} (part ${n})`,
      steps: [`${whole} (part ${n})`],
      after: false,
    }));
  }
  const one = (step: GoalStep) => ({ title: step.title, steps: [step.title], after: step.after });
  if (steps.length <= MAX_PARTS) return steps.map(one);
  const last = steps.slice(MAX_PARTS - 1);
  return [
    ...steps.slice(0, MAX_PARTS - 1).map(one),
    {
      title: `${last[0]!.title}, and ${plural(last.length - 1, 'more step')}`,
      steps: last.map((step) => step.title),
      after: last[0]!.after,
    },
  ];
}

/** A folder for each part, from its last words ("part-2" when it has none), never two the same. */
function uniqueFolders(pieces: readonly string[]): string[] {
  const used = new Set<string>();
  return pieces.map((piece, i) => {
    const words = (
      piece
        .normalize('NFD')
        .replace(/\p{M}/gu, '')
        .toLowerCase()
        .match(/[a-z0-9]+/g) ?? []
    ).filter((w) => !FILLERS.has(w));
    const base = words.length > 0 ? words.slice(-3).join('-') : `part-${i + 2}`;
    let folder = base;
    for (let n = 2; used.has(folder); n++) folder = `${base}-${n}`;
    used.add(folder);
    return folder;
  });
}
