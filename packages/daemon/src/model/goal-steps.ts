/**
 * The steps of a goal as a person wrote them down, read without a model for the offline `simulated` planner:
 * short imperative titles, and which of them wait for the steps before them.
 */

/** A step of the goal, and whether it works on what the steps before it made. */
export interface GoalStep {
  title: string;
  /** Introduced by "then", "finally"…, or acting on "it"/"them", or a bare "test" after "build". */
  after: boolean;
}

/** Words that open a noun phrase, not a step: "an FAQ" in "write the guide and an FAQ" is "Write an FAQ". */
export const DETERMINERS = new Set(
  'a an the this that these those some any each every all both another more our my your its their his her'.split(
    ' ',
  ),
);

/**
 * Verbs a goal's steps often are, so a bare "test" reads as a step of its own ("build the app, test and
 * deploy") and "Ship it: build, test" as steps rather than the things to ship. Any verb opens a step; only
 * these are known without the words after them.
 */
const VERBS = new Set(
  `add analyse analyze benchmark build check clean compile debug deploy design document draft fix format
  implement install lint measure merge migrate package plan polish profile proofread publish refactor release
  review run ship tag test translate update upgrade verify write`.split(/\s+/),
);

/** Words that open where or what a step is about, not the step: "Fix the bugs: in the parser, in the lexer". */
const PREPOSITIONS = new Set('about at by for from in into of on over to under with within'.split(' '));

/** What a step acts on when it acts on what came before: "serve it", "proofread them". */
const BACK_REFERENCES = new Set(['it', 'them']);

/** Asking words before the goal proper: "Please could you translate…" is "Translate…". */
const ASKING =
  /^(?:(?:please|kindly|(?:could|can|would|will) you|(?:i|we) (?:need|want|would like)(?: you)? to|i'd like(?: you)? to|we (?:should|must)|you should|let's|help me(?: to)?)\b[\s,:]*)+/i;

/** Order words opening a step; those that say it comes after the steps before it are caught as well. */
const ORDER =
  /^(?:(then|next|finally|lastly|last|afterwards|after (?:that|this)|later|subsequently|once (?:that|this|it)(?: is|'s)? done)|and|or|also|plus|now|first(?:ly)?|second(?:ly)?|third(?:ly)?)(?:[\s,:]+|$)/i;

/**
 * Where a list's pieces part: semicolons, commas, "and", "then", blank lines, the items of a list pasted in
 * (a line wrapped is not one) and the ends of sentences, but not the "2." of a numbered item.
 */
const SEPARATOR =
  /(\s*(?:;|,|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)|(?<!(?:^|\n)\s*\d{1,3}|\b(?:e\.g|i\.e|etc|vs))\.\s|\band\b|\bthen\b)\s*)/i;

/** What lies between two pieces that one word after a longer piece stays with: "Alice, Bob and Carol". */
const NAMES_GAP = /^(?:\s|,|\band\b)*$/i;

const MAX_TITLE = 80;

/**
 * The goal's steps (one or none when it is a single step). After a colon when the goal has one ("Write a
 * guide to tea: choose the leaves, heat the water"), or after the words before an inline numbered list
 * ("We need to 1) migrate the schema 2) backfill the data"); else the whole goal.
 */
export function stepsOf(goal: string): GoalStep[] {
  // Runs of blanks squeezed first: the separators scan a run from each of its characters.
  const marked = markNumberedItems(goal.replace(/[ \t]+/g, ' ').replace(/\n\s*\n/g, '\n\n'));
  const colon = /:\s/.exec(marked);
  const item = /\n\s*1[.)]\s/.exec(marked);
  const at = colon?.index ?? item?.index;
  if (at !== undefined) {
    const steps = stepsOfList(marked.slice(at + (colon === null ? 0 : 1)), marked.slice(0, at));
    if (steps.length >= 2) return steps;
  }
  return stepsOfList(marked, '');
}

/**
 * Numbered items written on one line, "1) migrate 2) backfill", put on lines of their own: only when they
 * count up from 1, so "from Postgres 12 to 16. Update the pool" is two sentences, not an item 16.
 */
function markNumberedItems(text: string): string {
  const runs: { index: number; n: number; mark: string }[][] = [];
  for (const found of text.matchAll(/(?<=^|[ \t])(\d{1,3})([.)])(?=\s)/g)) {
    const item = { index: found.index, n: Number(found[1]), mark: found[2]! };
    const last = runs.at(-1)?.at(-1);
    if (item.n === 1) runs.push([item]);
    else if (last !== undefined && item.n === last.n + 1 && item.mark === last.mark) runs.at(-1)!.push(item);
  }
  let marked = text;
  // From the end, so the indices before stay true.
  for (const item of runs
    .filter((run) => run.length >= 2)
    .flat()
    .reverse()) {
    marked = `${marked.slice(0, item.index).replace(/[ \t]+$/, '')}\n${marked.slice(item.index)}`;
  }
  return marked;
}

/**
 * A list's steps. A step that opens with an article borrows the verb of the step before it (or of the words
 * before the colon); when no item of a list after a colon is a step ("Document the API: endpoints, errors"),
 * each is what the verb before the colon acts on ("Document endpoints"); a one-word step after a longer one
 * stays with it, so "Write a guide for Alice, Bob and Carol" is one step, while "Build, test and deploy" is
 * three.
 */
function stepsOfList(list: string, head: string): GoalStep[] {
  const pieces = piecesOf(list);
  const asked = head.replace(ASKING, '');
  const headVerb = leadingVerb(asked);
  const objects = headVerb !== undefined && !pieces.some((p) => isAction(p.text));
  let verb = headVerb;
  let previous = clean(asked);
  const steps: GoalStep[] = [];
  let waiting = false;
  for (const piece of pieces.filter((p) => p.text.length > 2)) {
    const words = wordsOf(piece.text);
    const opening = words[0]!.toLowerCase();
    let step = piece.text;
    if (PREPOSITIONS.has(opening) && previous !== '') {
      // "Fix the bugs 1) in the parser 2) in the lexer": each is "Fix the bugs" somewhere.
      step = `${before(previous, opening)} ${piece.text}`;
    } else if (opening === 'one' && words.length > 1 && verb !== undefined) {
      // "Write three short poems: one about rain" is "Write a short poem about rain".
      const one = verb === headVerb ? oneOf(wordsOf(asked).slice(1)) : 'one';
      step = `${verb} ${one} ${words.slice(1).join(' ')}`;
    } else if (objects || DETERMINERS.has(opening)) {
      verb ??= 'prepare';
      step = `${verb} ${piece.text}`;
    } else verb = opening;
    previous = step;
    step = shorten(capitalise(step));
    const after: boolean = waiting || piece.after || refersBack(wordsOf(step));
    if (steps.some((s) => s.title.toLowerCase() === step.toLowerCase())) waiting = after;
    else {
      steps.push({ title: step, after: steps.length > 0 && after });
      waiting = false;
    }
  }
  return steps;
}

/** A list cut into its pieces, without their order words, each saying whether an order word put it after. */
function piecesOf(list: string): { text: string; after: boolean }[] {
  const [first = '', ...rest] = list.split(SEPARATOR);
  const pieces: { text: string; after: boolean }[] = [];
  let pending: { text: string; after: boolean } = openingOf(first);
  let gap = '';
  let waiting = false;
  for (let i = 0; i < rest.length; i += 2) {
    const separator = rest[i]!;
    const piece = openingOf(rest[i + 1] ?? '');
    gap += separator;
    const after: boolean = waiting || piece.after || /\bthen\b/i.test(separator);
    if (piece.text === '') {
      // "and also then proofread them": the order words wait for the step they open.
      gap += piece.ordered;
      waiting = after;
      continue;
    }
    const word = wordsOf(piece.text);
    const names =
      word.length === 1 &&
      !VERBS.has(word[0]!.toLowerCase()) &&
      piece.ordered === '' &&
      NAMES_GAP.test(gap) &&
      wordsOf(pending.text).length > 1;
    if (names) pending = { text: `${pending.text}${gap}${piece.text}`, after: pending.after };
    else {
      if (pending.text !== '') pieces.push({ text: pending.text, after: pending.after });
      pending = { text: piece.text, after };
    }
    gap = '';
    waiting = false;
  }
  if (pending.text !== '') pieces.push({ text: pending.text, after: pending.after });
  return pieces;
}

/** A piece cleaned, without the asking and order words it opens with, and whether those put it after. */
function openingOf(raw: string): { text: string; ordered: string; after: boolean } {
  let text = clean(raw).replace(ASKING, '');
  let ordered = '';
  let after = false;
  for (let found = ORDER.exec(text); found !== null && found[0] !== ''; found = ORDER.exec(text)) {
    ordered += found[0];
    after ||= found[1] !== undefined;
    text = text.slice(found[0].length).replace(ASKING, '');
  }
  return { text: clean(text), ordered, after };
}

/** Whether a piece reads as a step rather than a thing: a known verb, or a word then its object. */
function isAction(piece: string): boolean {
  const [first = '', second] = wordsOf(piece.toLowerCase());
  return (
    VERBS.has(first) ||
    (!DETERMINERS.has(first) &&
      !PREPOSITIONS.has(first) &&
      second !== undefined &&
      (DETERMINERS.has(second) || BACK_REFERENCES.has(second)))
  );
}

/** A step's words before its own phrase opening with `preposition`: "Fix the bugs" of "Fix the bugs in the parser". */
function before(step: string, preposition: string): string {
  const words = wordsOf(step);
  const at = words.findIndex((w, i) => i > 0 && w.toLowerCase() === preposition);
  return (at > 0 ? words.slice(0, at) : words).join(' ');
}

/** A step that acts on what came before: "Serve it", "Proofread them", a bare "Deploy". */
function refersBack(words: readonly string[]): boolean {
  const [first = '', second] = words.map((w) => w.toLowerCase());
  return second === undefined ? VERBS.has(first) : BACK_REFERENCES.has(second);
}

/**
 * "one" of the things a head names, as a phrase: "a short poem" of "three short poems"; "one" when the head
 * names no plural.
 */
function oneOf(object: readonly string[]): string {
  const counted = object.filter((w, i) => i > 0 || !(DETERMINERS.has(w.toLowerCase()) || COUNTS.test(w)));
  const last = counted.at(-1);
  if (last === undefined || !/[^s]s$/i.test(last)) return 'one';
  const singular = [...counted.slice(0, -1), singularOf(last)];
  return `${/^[aeiou]/i.test(singular[0]!) ? 'an' : 'a'} ${singular.join(' ')}`;
}

function singularOf(word: string): string {
  if (/ies$/i.test(word)) return word.replace(/ies$/i, 'y');
  if (/(?:ch|sh|x|ss)es$/i.test(word)) return word.slice(0, -2);
  return word.slice(0, -1);
}

const COUNTS = /^(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|many|few|a few)$/i;

/** The first word of a phrase when it is a verb, as far as one can tell: not an article, nor a lone noun. */
function leadingVerb(phrase: string): string | undefined {
  const words = wordsOf(phrase);
  const first = words[0]?.toLowerCase();
  if (first === undefined || DETERMINERS.has(first) || PREPOSITIONS.has(first)) return undefined;
  return words.length > 1 || VERBS.has(first) ? first : undefined;
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

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The goal as the title of a single step: "Please write the docs." is "Write the docs". */
export function titleOf(goal: string): string {
  return shorten(capitalise(clean(clean(goal).replace(ASKING, ''))));
}
