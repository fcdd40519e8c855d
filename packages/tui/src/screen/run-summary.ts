import { FINISHED_RUN_STATUSES, runWorkMs, type RunView, simulatedLabel } from '@orc/shared';
import { formatCost, formatDuration, formatTokens, taskCountsText } from './format.js';
import { oneLine } from './text-cells.js';

/**
 * What stays in the terminal's scrollback when the screen closes on a finished run: the counts, what it
 * cost, how long it took, and the final review's verdict, as plain text.
 */
export function runSummaryLines(view: RunView, now: number): string[] {
  const took = runWorkMs(view, now);
  const lines = [
    `Run ${view.id} ${view.status}${simulatedLabel(view)}: ` +
      [
        taskCountsText(view),
        `cost ${formatCost(view.costUsd)}`,
        `tokens ${formatTokens(view.usage.inputTokens)} in / ${formatTokens(view.usage.outputTokens)} out`,
        `time ${formatDuration(took)}`,
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

/** Finished, and its last event is in: a completed run's final review, a failed run's error. */
export function runIsOver(view: RunView): boolean {
  if (view.status === 'completed') return view.finalReview !== undefined;
  if (view.status === 'failed') return view.error !== undefined;
  return view.status === 'cancelled';
}

/** What the screen leaves on the terminal when it closes: the summary of a run it saw end, else how to come back. */
export function closingMessage(
  sawTheEnd: boolean,
  runId: string,
  view: RunView | undefined,
  reattach: string,
  now: number,
): string {
  if (sawTheEnd && view)
    return [...runSummaryLines(view, now), `See it again with: ${reattach} (or orc show ${runId})`].join(
      '\n',
    );
  if (view && FINISHED_RUN_STATUSES.has(view.status))
    return `Left run ${runId} (${view.status}). See it again with: ${reattach}`;
  return `Detached from run ${runId}; it goes on. Reattach with: ${reattach}`;
}
