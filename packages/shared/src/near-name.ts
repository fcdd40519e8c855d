/**
 * The known name a mistyped one most likely meant (`max_worker` → `max_workers`, `depends` →
 * `dependencies`), or undefined when none is near: for the "did you mean" of an unknown key.
 */
export function nearName(typed: string, known: Iterable<string>): string | undefined {
  const word = typed.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const candidate = name.toLowerCase();
    const distance = editDistance(word, candidate);
    const allowed = Math.max(1, Math.floor(Math.min(word.length, candidate.length) / 3));
    // A stem of the name (`depends`, `depend` for `dependencies`) is near however much it left off.
    const stem = sharedPrefix(word, candidate) >= Math.max(4, Math.min(word.length, candidate.length) - 1);
    if ((distance <= allowed || stem) && (best === undefined || distance < best.distance))
      best = { name, distance };
  }
  return best?.name;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

function sharedPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
