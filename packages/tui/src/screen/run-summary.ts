import type { RunView } from '@orc/shared';
import { elapsedMs, formatCost, formatDuration, formatTokens, taskCountsText } from './format.js';
import { oneLine } from './text-cells.js';

/**
 * What stays in the terminal's scrollback when the screen closes on a finished run: the counts, what it
 * cost, how long it took, and the final review's verdict, as plain text.
 */
export function runSummaryLines(view: RunView, now: number): string[] {
  const took = elapsedMs(view.createdAt, view.finishedAt, now);
  const lines = [
    `Run ${view.id} ${view.status}${view.models.simulated ? ' [SIMULATED]' : ''}: ` +
      [
        taskCountsText(view),
        `cost ${formatCost(view.costUsd)}`,
        `tokens ${formatTokens(view.usage.inputTokens)} in / ${formatTokens(view.usage.outputTokens)} out`,
        `time ${took === undefined ? '-' : formatDuration(took)}`,
      ].join(' · '),
  ];
  if (view.error !== undefined) lines.push(`Error: ${oneLine(view.error)}`);
  const review = view.finalReview;
  if (review !== undefined) {
    lines.push(`Final review (${review.verdict}): ${oneLine(review.summary)}`);
    for (const followUp of review.followUps) lines.push(`  follow-up: ${oneLine(followUp)}`);
  }
  return lines;
}
