import { git, gitLine } from './git.js';

export type TreeMerge =
  { ok: true; tree: string } | { ok: false; tree: string; files: string[]; messages: string[] };

/**
 * Merges two commits into a tree with `git merge-tree --write-tree` (git 2.38+), touching no working
 * tree, no index and no ref: the caller decides what to commit. The merge base is the one git finds.
 */
export async function mergeTrees(repo: string, ours: string, theirs: string): Promise<TreeMerge> {
  const { stdout, exitCode } = await git(
    ['merge-tree', '--write-tree', '-z', '--name-only', ours, theirs],
    repo,
    {
      okExitCodes: [1],
    },
  );
  // -z layout: <tree> NUL <conflicted path> NUL … NUL NUL <informational messages>
  const split = stdout.indexOf('\0\0');
  const head = split === -1 ? stdout : stdout.slice(0, split);
  const [tree = '', ...files] = head.split('\0').filter((part) => part !== '');
  if (exitCode === 0) return { ok: true, tree: tree.trim() };
  const messages =
    split === -1
      ? []
      : stdout
          .slice(split + 2)
          .split('\0')
          .filter((part) => part.startsWith('CONFLICT'))
          .map((part) => part.trim());
  return { ok: false, tree: tree.trim(), files: [...new Set(files)], messages };
}

/**
 * What a person (or the manager, for a rework) needs to see about a conflict: git's own conflict lines and
 * the hunks with their markers, cut at `limitBytes`.
 */
export async function conflictReport(
  repo: string,
  ours: string,
  merge: Extract<TreeMerge, { ok: false }>,
  limitBytes = 8000,
): Promise<string> {
  const summary = [`conflicting files: ${merge.files.join(', ') || '(none named)'}`, ...merge.messages].join(
    '\n',
  );
  // The merged tree keeps conflict markers in the conflicting files, so its diff against ours shows the hunks.
  const { stdout, truncated } = await git(
    ['diff', '--no-color', ours, merge.tree, '--', ...merge.files],
    repo,
    {
      maxOutputBytes: limitBytes,
    },
  );
  return bounded(`${summary}\n\n${stdout}`, limitBytes, truncated);
}

export async function treeOf(repo: string, commit: string): Promise<string> {
  return gitLine(['rev-parse', `${commit}^{tree}`], repo);
}

/** `text` cut at `limitBytes` with a note saying so. */
export function bounded(text: string, limitBytes: number, alreadyCut = false): string {
  if (!alreadyCut && Buffer.byteLength(text) <= limitBytes) return text;
  const cut = Buffer.from(text)
    .subarray(0, limitBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${cut}\n… (cut at ${limitBytes} bytes)`;
}
