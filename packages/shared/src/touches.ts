import * as z from 'zod';

/** The most paths or globs one task may name: a plan names a few, a learned diff is cut to this. */
export const MAX_TOUCHES = 200;

/**
 * One path or glob a task will touch, relative to the repository root: `src/ui/list.ts`, `src/ui/**`,
 * `docs/*.md`. A path without wildcards also stands for everything under it (a directory). `./` and
 * trailing slashes are dropped; absolute paths and `..` are refused, they name nothing in the repository.
 */
export const TouchPattern = z.preprocess(
  // A preprocess, not a transform: the plan's JSON Schema (what the model reads) stays a string.
  (value) => (typeof value === 'string' ? normaliseTouch(value.trim()) : value),
  z
    .string()
    .min(1, 'a touched path must name something under the repository root')
    .max(400, 'a touched path is at most 400 characters')
    .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p), {
      message: 'touched paths are relative to the repository root (no leading "/")',
    })
    .refine((p) => !p.split('/').includes('..'), { message: 'touched paths may not contain ".."' }),
);

/** The paths or globs a task will touch (see `TouchPattern`). */
export const Touches = z
  .array(TouchPattern)
  .max(MAX_TOUCHES, `at most ${MAX_TOUCHES} touched paths per task`);
export type Touches = z.infer<typeof Touches>;

function normaliseTouch(path: string): string {
  let p = path.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  p = p.replace(/(?:\/\.)+(?=\/|$)/g, '');
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p === '.' ? '' : p;
}

/** A pattern split into its path segments, once per task rather than once per comparison. */
export type ParsedTouch = { text: string; segments: readonly string[] };

export function parseTouches(patterns: readonly string[]): ParsedTouch[] {
  return patterns.map((text) => ({ text, segments: text.split('/') }));
}

const WILDCARD = /[*?[{]/;

/**
 * Whether some path could match both patterns. Conservative (it may say yes for two globs no file
 * matches together, never no for two that share one) and cheap: segment by segment, a literal segment
 * against a literal one by equality, a segment with a wildcard by its literal head and tail only, `**`
 * against any run of segments. A pattern that ends first stands for the directory it names, so
 * `src/ui` overlaps `src/ui/list.ts`.
 */
export function patternsOverlap(a: readonly string[], b: readonly string[], i = 0, j = 0): boolean {
  for (;;) {
    if (i >= a.length || j >= b.length) return true;
    const x = a[i]!;
    const y = b[j]!;
    if (x === '**' || y === '**') {
      if (x === '**' && y === '**') return true;
      const [star, other, si, oi] = x === '**' ? [a, b, i, j] : [b, a, j, i];
      // `**` matches any run of segments: try the rest of the glob at each place in the other pattern.
      for (let k = oi; k <= other.length; k++) {
        if (star === a ? patternsOverlap(a, b, si + 1, k) : patternsOverlap(a, b, k, si + 1)) return true;
      }
      return false;
    }
    if (!segmentsOverlap(x, y)) return false;
    i++;
    j++;
  }
}

function segmentsOverlap(x: string, y: string): boolean {
  const wx = WILDCARD.test(x);
  const wy = WILDCARD.test(y);
  if (!wx && !wy) return x === y;
  const [hx, tx] = headAndTail(x, wx);
  const [hy, ty] = headAndTail(y, wy);
  const heads = hx.startsWith(hy) || hy.startsWith(hx);
  const tails = tx.endsWith(ty) || ty.endsWith(tx);
  return heads && tails;
}

/** The literal text before a segment's first wildcard and after its last one. */
function headAndTail(segment: string, wild: boolean): [string, string] {
  if (!wild) return [segment, segment];
  const first = segment.search(WILDCARD);
  let last = -1;
  for (let k = segment.length - 1; k >= 0; k--) {
    if ('*?]}'.includes(segment[k]!)) {
      last = k;
      break;
    }
  }
  return [segment.slice(0, first), last < first ? '' : segment.slice(last + 1)];
}

/** The first pattern of `mine` that overlaps one of `theirs`, or undefined when none does. */
export function firstOverlap(
  mine: readonly ParsedTouch[],
  theirs: readonly ParsedTouch[],
): string | undefined {
  for (const m of mine) for (const t of theirs) if (patternsOverlap(m.segments, t.segments)) return m.text;
  return undefined;
}

/** What a task will touch as the scheduler sees it: what it was planned with and what its diff changed. */
export function touchesOf(task: { touches?: readonly string[]; touched?: readonly string[] }): string[] {
  const planned = task.touches ?? [];
  const learned = task.touched ?? [];
  if (learned.length === 0) return [...planned];
  if (planned.length === 0) return [...learned];
  return [...new Set([...planned, ...learned])];
}

/** Why a ready task waits for another's files: the path it would touch and the task holding it. */
export interface FileWait {
  path: string;
  holder: string;
}

/** "waits for src/x.ts held by t3". */
export function describeFileWait(wait: FileWait): string {
  return `waits for ${wait.path} held by ${wait.holder}`;
}

const IN_FLIGHT: ReadonlySet<string> = new Set(['running', 'reviewing', 'merging']);

/**
 * The ready tasks that wait for another task's files, as the scheduler orders them: a ready task whose
 * touches overlap those of a task in flight (running, in review, being merged) waits for it. For clients
 * (`orc show`, the terminal UI); O(ready × in flight).
 */
export function fileWaits(
  tasks: Iterable<{
    id: string;
    status: string;
    touches?: readonly string[];
    touched?: readonly string[];
  }>,
): Map<string, FileWait> {
  const holders: { id: string; touches: ParsedTouch[] }[] = [];
  const ready: { id: string; touches: ParsedTouch[] }[] = [];
  for (const task of tasks) {
    if (task.status !== 'ready' && !IN_FLIGHT.has(task.status)) continue;
    const touches = touchesOf(task);
    if (touches.length === 0) continue;
    (task.status === 'ready' ? ready : holders).push({ id: task.id, touches: parseTouches(touches) });
  }
  const waits = new Map<string, FileWait>();
  if (holders.length === 0) return waits;
  for (const task of ready) {
    for (const holder of holders) {
      const path = firstOverlap(task.touches, holder.touches);
      if (path !== undefined) {
        waits.set(task.id, { path, holder: holder.id });
        break;
      }
    }
  }
  return waits;
}
