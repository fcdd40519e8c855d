/**
 * What a run may still spend (USD), for a provider that can stop a call at a budget itself (Claude Code's
 * `maxBudgetUsd`); undefined when the run has no budget, or a person lifted it.
 */
export function remainingBudgetUsd(
  limitUsd: number | undefined,
  lifted: boolean | undefined,
  spentUsd: number,
): number | undefined {
  if (limitUsd === undefined || lifted === true) return undefined;
  return Math.max(0, limitUsd - spentUsd);
}
