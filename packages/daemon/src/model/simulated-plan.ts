import { plural, type Plan } from '@orc/shared';

/** Marks every simulated answer, so nobody mistakes it for a model's. */
export const SIMULATED_LABEL = '[simulated]';

/** Words that open a noun phrase, not a step: "an FAQ" in "write the guide and an FAQ" is "Write an FAQ". */
const DETERMINERS = new Set(
  'a an the this that these those some any each every all both another more our my your its their his her'.split(
    ' ',
  ),
);

/** Words a folder name leaves out, so "choose the leaves" lives in `src/choose-leaves/`. */
const FILLERS = new Set([...DETERMINERS, ...'and or of to for in on at by with from into it'.split(' ')]);

const MAX_PARTS = 5;
const MAX_TITLE = 80;

/**
 * The simulated manager's plan: an analysis task first, one task per step of the goal, then an integration
 * task that depends on them all. Steps are read from the goal as a person would write them down: after a
 * colon when the goal has one ("Write a guide to tea: choose the leaves, heat the water" plans "Choose
 * the leaves" and "Heat the water"), split at commas, semicolons, "and", "then", sentences and the items
 * of a list. A goal of one step is planned in two halves. The parts run in parallel, so each touches its own folder and no other file.
 * Deterministic: the same goal gets the same plan, whatever the seed.
 */
export function planFor(goal: string): Plan {
  const pieces = partsOf(goal);
  const folders = uniqueFolders(pieces.map((p) => p.title));
  const tasks: Plan['tasks'] = [
    {
      id: 't1',
      title: 'Analyse the goal',
      description: `Work out what "${goal}" requires.`,
      dependencies: [],
      priority: 'high',
      touches: ['docs/plan.md'],
    },
    ...pieces.map((piece, i) => ({
      id: `t${i + 2}`,
      title: piece.title,
      description:
        piece.steps.length === 1
          ? `${piece.title}: one step of the goal "${goal}".`
          : `The last steps of the goal "${goal}": ${piece.steps.join('; ')}.`,
      dependencies: ['t1'],
      priority: 'medium' as const,
      touches: [`src/${folders[i]!}/**`],
    })),
  ];
  tasks.push({
    id: `t${pieces.length + 2}`,
    title: 'Integrate and check the results',
    description: 'Bring the parts together and check them against the goal.',
    dependencies: pieces.map((_, i) => `t${i + 2}`),
    priority: 'medium',
    touches: ['src/**', 'README.md'],
  });
  // The CLI and the screen say "planned 6 tasks: " before the summary: it does not count them again.
  return {
    summary: `${SIMULATED_LABEL} analysis, ${pieces.length} parts in parallel, integration.`,
    tasks,
  };
}

/**
 * The parts a goal is planned in: a task per step, at most MAX_PARTS (the last does the steps beyond too,
 * and says so, rather than a step going unplanned), or two halves of a goal of one step.
 */
function partsOf(goal: string): { title: string; steps: string[] }[] {
  const steps = stepsOf(goal);
  if (steps.length < 2) {
    const whole = steps[0] ?? shorten(capitalise(clean(goal)));
    return ['one', 'two'].map((n) => ({ title: `${whole} (part ${n})`, steps: [`${whole} (part ${n})`] }));
  }
  if (steps.length <= MAX_PARTS) return steps.map((step) => ({ title: step, steps: [step] }));
  const last = steps.slice(MAX_PARTS - 1);
  return [
    ...steps.slice(0, MAX_PARTS - 1).map((step) => ({ title: step, steps: [step] })),
    { title: `${last[0]!}, and ${plural(last.length - 1, 'more step')}`, steps: last },
  ];
}

/**
 * The goal's steps as short imperative titles (one or none when it is a single step). A step that opens with
 * an article borrows the verb of the step before it (or of the words before the colon); a one-word step
 * after a longer one stays with it, so "Write a guide for Alice, Bob and Carol" is one step, while
 * "Build, test and deploy" is three.
 */
function stepsOf(goal: string): string[] {
  const colon = /:\s/.exec(goal);
  if (colon !== null) {
    const steps = stepsOfList(goal.slice(colon.index + 1), goal.slice(0, colon.index));
    if (steps.length >= 2) return steps;
  }
  return stepsOfList(goal, '');
}

function stepsOfList(list: string, head: string): string[] {
  // Sentences, paragraphs and the items of a list pasted in are steps too (a line wrapped is not);
  // "1. " opens a numbered item, it ends no sentence.
  const [first = '', ...rest] = list.split(
    /(\s*(?:;|,|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)|(?<!\d)\.\s|\band\b|\bthen\b)\s*)/i,
  );
  const pieces: string[] = [];
  let pending = first;
  for (let i = 0; i < rest.length; i += 2) {
    const separator = rest[i]!;
    const piece = clean(rest[i + 1] ?? '');
    if (piece === '') continue;
    if (wordsOf(piece).length === 1 && wordsOf(clean(pending)).length > 1) pending += separator + piece;
    else {
      pieces.push(clean(pending));
      pending = piece;
    }
  }
  pieces.push(clean(pending));
  let verb = leadingVerb(head);
  const steps: string[] = [];
  for (const piece of pieces.filter((p) => p.length > 2)) {
    const opening = wordsOf(piece)[0]!.toLowerCase();
    let step = piece;
    if (DETERMINERS.has(opening)) {
      verb ??= 'prepare';
      step = `${verb} ${piece}`;
    } else verb = opening;
    step = shorten(capitalise(step));
    if (!steps.some((s) => s.toLowerCase() === step.toLowerCase())) steps.push(step);
  }
  return steps;
}

/** The first word of a phrase when it is a verb, as far as one can tell: not when it is an article. */
function leadingVerb(phrase: string): string | undefined {
  const first = wordsOf(phrase)[0]?.toLowerCase();
  return first === undefined || DETERMINERS.has(first) ? undefined : first;
}

function wordsOf(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/** A piece on one line, without a list's bullet or number, the space and the punctuation around it. */
function clean(piece: string): string {
  return piece
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^(?:[-*•]|\d+[.)])\s+/, '')
    .replace(/[.!?:]+$/, '');
}

/** At most MAX_TITLE characters, cut between words. */
function shorten(title: string): string {
  if (title.length <= MAX_TITLE) return title;
  const cut = title.slice(0, MAX_TITLE - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > MAX_TITLE / 2 ? cut.slice(0, space) : cut}…`;
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

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
