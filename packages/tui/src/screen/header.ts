import { FINISHED_RUN_STATUSES, type RunView } from '@orc/shared';
import {
  elapsedMs,
  finishedTaskCount,
  formatCost,
  formatDuration,
  formatTokens,
  progressBar,
} from './format.js';
import { RUN_STATUS_COLOR, colored } from './status-style.js';
import { cellWidth, escapeTags, oneLine, truncateCells } from './text-cells.js';

export interface HeaderOptions {
  width: number;
  now: number;
  /** `monitoring.show_progress_bar`. */
  showProgressBar: boolean;
  /** Shown on its own line in red when set: the daemon went away, an action failed. */
  alert?: string;
}

const SIMULATED_BADGE = ' SIMULATED ';

/** The header's lines as blessed markup: who, what state, how far, how much it costs. */
export function renderHeader(view: RunView, options: HeaderOptions): string[] {
  const { width, now } = options;
  const badge = view.models.simulated ? SIMULATED_BADGE : '';
  const title = `run ${view.id} · `;
  const goalRoom = Math.max(0, width - cellWidth(title) - cellWidth(badge) - 1);
  const goal = truncateCells(oneLine(view.goal), goalRoom);
  const gap = ' '.repeat(Math.max(1, width - cellWidth(title) - cellWidth(goal) - cellWidth(badge)));
  const line1 =
    `{bold}${escapeTags(title)}${escapeTags(goal)}{/bold}` +
    (badge ? `${gap}{black-fg}{yellow-bg}{bold}${badge}{/bold}{/yellow-bg}{/black-fg}` : '');

  const elapsed = elapsedMs(view.createdAt, view.finishedAt, now);
  const state =
    view.status === 'paused' && view.pauseReason !== undefined ? `paused (${view.pauseReason})` : view.status;
  const stats = (provider: string) =>
    [
      `elapsed ${elapsed === undefined ? '-' : formatDuration(elapsed)}`,
      `workers ${view.busyWorkers}/${view.maxWorkers}`,
      `tokens ${formatTokens(view.usage.inputTokens)} in / ${formatTokens(view.usage.outputTokens)} out`,
      `cost ${formatCost(view.costUsd)}`,
      `provider ${provider}`,
    ].join('  ');
  // The model names go first when the line is too long for the terminal.
  let statsText = stats(providerText(view, true));
  if (cellWidth(state) + 2 + cellWidth(statsText) > width) statsText = stats(providerText(view, false));
  const line2 = `{bold}${colored(RUN_STATUS_COLOR[view.status], state.toUpperCase())}{/bold}  ${escapeTags(statsText)}`;

  const finished = finishedTaskCount(view);
  const counts = countsText(view);
  const lines = [line1, line2];
  if (options.showProgressBar) {
    const barWidth = Math.max(10, Math.min(40, width - cellWidth(counts) - 2));
    lines.push(`${progressBar(finished, view.taskTotal, barWidth)}  ${escapeTags(counts)}`);
  } else {
    lines.push(escapeTags(`${finished}/${view.taskTotal} finished  ${counts}`));
  }
  const notice = options.alert ?? runNotice(view);
  if (notice !== undefined) {
    const color =
      options.alert !== undefined || view.status === 'failed' || view.status === 'damaged'
        ? 'red'
        : view.status === 'completed'
          ? 'green'
          : 'yellow';
    lines.push(`{bold}${colored(color, escapeTags(truncateCells(oneLine(notice), width)))}{/bold}`);
  }
  return lines;
}

function providerText(view: RunView, withModels: boolean): string {
  const { manager, worker } = view.models;
  const provider =
    manager.provider === worker.provider ? worker.provider : `${manager.provider}+${worker.provider}`;
  return withModels ? `${provider} (${manager.model} / ${worker.model})` : provider;
}

function countsText(view: RunView): string {
  const c = view.taskCounts;
  const parts = [`${c.done ?? 0}/${view.taskTotal} done`];
  for (const status of [
    'running',
    'reviewing',
    'ready',
    'failed',
    'blocked',
    'skipped',
    'cancelled',
  ] as const) {
    const n = c[status] ?? 0;
    if (n > 0) parts.push(`${n} ${status}`);
  }
  return parts.join(' · ');
}

/** What the user should know about the run's state that the numbers do not say. */
function runNotice(view: RunView): string | undefined {
  const { damage } = view;
  if (view.status === 'damaged' && damage) {
    return `Damaged: ${damage.file} ${damage.reason}. The run is kept as it is and not run.`;
  }
  if (view.status === 'paused') {
    const why =
      view.pauseReason === 'budget'
        ? 'the cost budget is reached'
        : view.pauseReason === 'provider'
          ? 'the model provider is unavailable'
          : 'you paused it';
    return `Paused because ${why}. Press p to resume.`;
  }
  if (view.status === 'failed') return `Run failed${view.error === undefined ? '' : `: ${view.error}`}`;
  if (FINISHED_RUN_STATUSES.has(view.status)) {
    const review = view.finalReview;
    return `Run ${view.status}${review === undefined ? '' : ` (${review.verdict}): ${review.summary}`}`;
  }
  if (damage?.rebuiltFrom !== undefined) {
    return `Rebuilt from ${damage.rebuiltFrom} after ${damage.file} ${damage.reason}.`;
  }
  return undefined;
}
