import {
  FINISHED_RUN_STATUSES,
  localTime,
  localTimeOfDay,
  quotaWaitText,
  runWorkMs,
  type RunView,
  simulatedRoles,
} from '@orc/shared';
import { formatCost, formatDuration, formatTokens, progressBar, taskCountsText } from './format.js';
import type { WaitingCount } from './inbox-feed.js';
import { waitingLabel } from './inbox-view.js';
import { RUN_STATUS_COLOR, colored } from './status-style.js';
import { trainLine } from './train-line.js';
import { damagedRunFix } from '../cli/output.js';
import { cellWidth, escapeTags, oneLine, truncateCells, wrapCells } from './text-cells.js';

export interface HeaderOptions {
  width: number;
  now: number;
  /** `monitoring.show_progress_bar`. */
  showProgressBar: boolean;
  /** Shown in red below the rest, wrapped, when set: the daemon went away, an action failed. */
  alert?: string;
  /** Inbox items waiting for a person: this run's and every run's (`i` opens them). */
  waiting?: WaitingCount;
  /** The Redis backend's workers in a line (`remoteLine`); absent with the local backend. */
  remote?: string;
}

const SIMULATED_BADGE = ' SIMULATED ';
/** Rows a notice may take, wrapped: a damaged run's file path and its fix are read whole. */
const NOTICE_ROWS = 4;

/** The header's lines as blessed markup: who, what state, how far, how much it costs. */
export function renderHeader(view: RunView, options: HeaderOptions): string[] {
  const { width, now } = options;
  const roles = simulatedRoles(view.models);
  const badge = roles === undefined ? '' : roles === 'SIMULATED' ? SIMULATED_BADGE : ` ${roles} `;
  const title = `run ${view.id} · `;
  const waiting = waitingBadge(options.waiting, width - cellWidth(title) - cellWidth(badge) - 2);
  const badges = cellWidth(waiting) + (waiting && badge ? 1 : 0) + cellWidth(badge);
  const goalRoom = Math.max(0, width - cellWidth(title) - badges - 1);
  const goal = truncateCells(oneLine(view.goal), goalRoom);
  const gap = ' '.repeat(Math.max(1, width - cellWidth(title) - cellWidth(goal) - badges));
  const line1 =
    `{bold}${escapeTags(title)}${escapeTags(goal)}{/bold}` +
    (badges > 0 ? gap : '') +
    (waiting ? `{white-fg}{magenta-bg}{bold}${escapeTags(waiting)}{/bold}{/magenta-bg}{/white-fg}` : '') +
    (waiting && badge ? ' ' : '') +
    (badge ? `{black-fg}{yellow-bg}{bold}${badge}{/bold}{/yellow-bg}{/black-fg}` : '');

  // Working time, as `orc ls`, `orc show` and the report count it: not the time it was paused, nor the
  // time it stood finished before a retry or a rollback reopened it.
  const took = runWorkMs(view, now);
  const state =
    view.status === 'paused' && view.pauseReason === 'quota' && view.resumeAt !== undefined
      ? quotaWaitText(view.resumeAt, now)
      : view.status === 'paused' && view.pauseReason !== undefined
        ? `paused (${view.pauseReason})`
        : view.status;
  const { forecast } = view;
  const ahead = (long: boolean) => {
    if (forecast === undefined) return [];
    const when = finishText(view.status, forecast.finishAt, now, long);
    return [
      `${long ? 'forecast ' : '→'}${formatCost(forecast.costUsd)}${when === undefined ? '' : `${long ? ', ' : ' '}${when}`}`,
    ];
  };
  const tokensIn = formatTokens(view.usage.inputTokens);
  const tokensOut = formatTokens(view.usage.outputTokens);
  const stats = (long: boolean, provider: string | undefined) =>
    [
      `time ${formatDuration(took)}`,
      `workers ${view.busyWorkers}/${view.maxWorkers}`,
      long ? `tokens ${tokensIn} in / ${tokensOut} out` : `tokens ${tokensIn}/${tokensOut}`,
      `cost ${formatCost(view.costUsd)}`,
      ...ahead(long),
      ...(provider === undefined ? [] : [long ? `provider ${provider}` : provider]),
    ].join('  ');
  // Shorter and shorter until it fits: the model names go first, then the labels, then the provider.
  const variants = [
    stats(true, providerText(view, true)),
    stats(true, providerText(view, false)),
    stats(false, providerText(view, false)),
    stats(false, undefined),
  ];
  const room = width - cellWidth(state) - 2;
  const statsText = truncateCells(variants.find((text) => cellWidth(text) <= room) ?? variants.at(-1)!, room);
  const line2 = `{bold}${colored(RUN_STATUS_COLOR[view.status], state.toUpperCase())}{/bold}  ${escapeTags(statsText)}`;

  // The bar fills with the tasks done, as its count and `orc ls`/`orc show` say: a failed task is told
  // apart (`· 2 failed`), not counted as progress.
  const done = view.taskCounts.done ?? 0;
  const counts = taskCountsText(view);
  const lines = [line1, line2];
  if (options.showProgressBar) {
    const barWidth = Math.max(10, Math.min(40, width - cellWidth(counts) - 2));
    const shown = truncateCells(counts, Math.max(0, width - barWidth - 2));
    lines.push(`${progressBar(done, view.taskTotal, barWidth)}  ${escapeTags(shown)}`);
  } else {
    lines.push(escapeTags(truncateCells(counts, width)));
  }
  const train = trainLine(view, now);
  if (train !== undefined) lines.push(escapeTags(truncateCells(train, width)));
  if (options.remote !== undefined) lines.push(escapeTags(truncateCells(options.remote, width)));
  const notice = options.alert !== undefined ? [options.alert] : runNotice(view, now);
  if (notice !== undefined) {
    const color =
      options.alert !== undefined || view.status === 'failed' || view.status === 'damaged'
        ? 'red'
        : view.status === 'completed'
          ? 'green'
          : 'yellow';
    // Each part on lines of its own, wrapped rather than cut (a 160-column line cut a damaged run's fix
    // off after the file's path); a very long one is cut at its last row.
    const rows = notice.flatMap((part) => wrapCells(oneLine(part), width));
    if (rows.length > NOTICE_ROWS)
      rows.splice(NOTICE_ROWS - 1, Infinity, truncateCells(`${rows[NOTICE_ROWS - 1]!} …`, width));
    for (const row of rows) lines.push(`{bold}${colored(color, escapeTags(row))}{/bold}`);
  }
  return lines;
}

/**
 * When the run ends, as `orc ls` says it: its tasks settled, the run is writing its final review (the
 * forecast made with no task left is the instant it was made, a time soon past); a finish time past is
 * `overdue` (its tasks run longer than the recent ones).
 */
function finishText(
  status: RunView['status'],
  finishAt: string | undefined,
  now: number,
  long: boolean,
): string | undefined {
  if (status === 'reviewing') return 'final review';
  if (finishAt === undefined) return undefined;
  if (Date.parse(finishAt) <= now) return 'overdue';
  return `${long ? 'done ' : ''}${localTime(finishAt)}`;
}

/** The inbox count as a badge in at most `room` cells: the run's and the others' apart, else the sum. */
function waitingBadge(count: WaitingCount | undefined, room: number): string {
  const label = count && waitingLabel(count);
  if (count === undefined || label === undefined) return '';
  const badges = [label, `${count.all} waiting · i`, `${count.all} waiting`].map((text) => ` ${text} `);
  return badges.find((text) => cellWidth(text) <= room) ?? badges.at(-1)!;
}

function providerText(view: RunView, withModels: boolean): string {
  const { manager, worker } = view.models;
  const provider =
    manager.provider === worker.provider ? worker.provider : `${manager.provider}+${worker.provider}`;
  return withModels ? `${provider} (${manager.model} / ${worker.model})` : provider;
}

/** What the user should know about the run's state that the numbers do not say, in parts of a line or more. */
function runNotice(view: RunView, now: number): string[] | undefined {
  const { damage } = view;
  if (view.status === 'damaged' && damage) {
    return [
      `Damaged: ${damage.file} ${damage.reason}. The run is kept as it is and not run.`,
      damagedRunFix(view.id),
    ];
  }
  const notice = runStateNotice(view, now);
  return notice === undefined ? undefined : [notice];
}

function runStateNotice(view: RunView, now: number): string | undefined {
  const { damage } = view;
  if (view.status === 'awaiting_approval') return 'The plan waits for your approval: press i to answer.';
  if (view.status === 'paused') {
    if (view.pauseReason === 'quota') {
      const whose = view.quotaModel === undefined ? 'the account' : view.quotaModel;
      const until =
        view.resumeAt === undefined ? '' : ` It goes on by itself at ${localTimeOfDay(view.resumeAt, now)}.`;
      return `Waiting for the quota of ${whose}.${until} Press p to resume now.`;
    }
    if (view.pauseReason === 'storage') {
      const detail = view.pauseMessage === undefined ? '' : ` (${view.pauseMessage})`;
      return `Paused: the state directory takes no writes${detail}. It goes on by itself once it does.`;
    }
    if (view.pauseReason === 'backend') {
      // The daemon's message names the server and says the run goes on by itself.
      return `Paused: ${view.pauseMessage ?? 'the Redis server cannot be reached; the run goes on by itself once it answers'}.`;
    }
    // A budget pause and a held run are not undone by p alone: p goes past the budget, and a held run
    // pauses again until its cancelled task is retried or skipped (a trial pressed p and got both).
    if (view.pauseReason === 'budget')
      return view.pauseMessage === undefined
        ? `Paused at its budget. Press p to go on past it; orc resume ${view.id} --budget <usd> sets a new one.`
        : `Paused at its budget: ${view.pauseMessage}. Press p to go on past it.`;
    if (view.pauseReason === 'held')
      return 'Paused: the work left waits for a task you cancelled. Select it and press r to retry or s to skip it.';
    const why =
      view.pauseReason === 'provider'
        ? 'the model provider is unavailable'
        : view.pauseReason === 'source'
          ? 'the Task Master file cannot be read'
          : view.pauseReason === 'verify'
            ? `integration.verify cannot pass: ${view.train?.last?.reason ?? 'see the events'}`
            : view.pauseReason === 'rollback'
              ? 'it was rolled back to a checkpoint: look over the tasks it reset'
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
  if (view.source?.writeBack === false)
    return 'Simulated: nothing is written to Task Master (--write-simulated writes it).';
  return undefined;
}
