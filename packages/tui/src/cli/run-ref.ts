import type { OrcClient } from '@orc/daemon/client';
import { OrcError, type RunSummary } from '@orc/shared';
import { UsageError } from './cli-error.js';

/** How many matching ids an ambiguous prefix lists before "…". */
const SHOWN_MATCHES = 8;

/**
 * The run a user means: its whole id, a prefix only one run's id starts with, or `last` (the newest run).
 * A whole id wins over a prefix of a longer one. No match is RUN_NOT_FOUND (exit 3); a prefix that fits
 * several runs is a usage mistake (exit 2) that lists them.
 */
export function matchRunRef(runs: readonly RunSummary[], ref: string): RunSummary {
  // An empty id is a prefix of every id: it read as "ambiguous" and listed them.
  if (ref.trim() === '')
    throw new UsageError('the run id is empty; give a run id, a unique prefix of one, or last');
  if (ref === 'last') {
    const newest = [...runs].sort(byCreated).at(-1);
    if (newest === undefined)
      throw new OrcError('RUN_NOT_FOUND', 'there is no run yet; start one with orc run');
    return newest;
  }
  const exact = runs.find((run) => run.id === ref);
  if (exact) return exact;
  const matches = runs.filter((run) => run.id.startsWith(ref)).sort(byCreated);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new OrcError('RUN_NOT_FOUND', `no run "${ref}"; orc ls lists the runs`);
  const shown = matches.slice(0, SHOWN_MATCHES).map((run) => run.id);
  const more = matches.length > SHOWN_MATCHES ? `, … (${matches.length} in all)` : '';
  throw new UsageError(`run id "${ref}" is ambiguous: ${shown.join(', ')}${more}; give more of it`);
}

/** `matchRunRef` against the daemon's runs. */
export async function resolveRunRef(client: OrcClient, ref: string): Promise<RunSummary> {
  return matchRunRef(await client.trpc.runs.list.query(), ref);
}

function byCreated(a: RunSummary, b: RunSummary): number {
  return a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
}
