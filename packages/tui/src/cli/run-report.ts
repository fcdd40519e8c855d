import {
  describeFileWait,
  describeSourceChange,
  fileWaits,
  localTime,
  runWorkMs,
  type Attempt,
  type PauseReason,
  type RunView,
  type TaskDiff,
  type TaskRecord,
  type ToolRefusal,
  simulatedLabel,
  workerSpend,
} from '@orc/shared';
import { attemptMs, formatCost, formatDuration, formatTokens, taskTimeMs } from '../screen/format.js';
import { oneLine, plainText, truncateCells } from '../screen/text-cells.js';
import { trainLine } from '../screen/train-line.js';
import { damageFix, damageText, formatCounts, spendNote } from './output.js';
import { sourceName, writeBackLine } from './run-preview-lines.js';
import { statusText } from './run-table.js';

const LONGEST_ID_SHOWN = 16;
/** Feedback and errors in the per-task lines of `orc show <run>`; `orc show <run> <task>` has them whole. */
const NOTE_CELLS = 100;

/**
 * `orc show <run>`: the run, then every task with each attempt, its verdict and its error. `notes` follow
 * the run's own lines (what waits for a person, and how long the run waited for one).
 */
export function runReport(run: RunView, now: number, notes: readonly string[] = []): string[] {
  const took = runWorkMs(run, now);
  const idWidth = Math.min(LONGEST_ID_SHOWN, Math.max(2, ...run.tasks.map((t) => t.id.length)));
  const lines = [
    `run ${run.id} ${statusNote(run, now)}${simulatedLabel(run)}`,
    `goal: ${oneLine(run.goal)}`,
    `models: manager ${run.models.manager.provider}/${run.models.manager.model}, worker ${run.models.worker.provider}/${run.models.worker.model}`,
    `tasks: ${formatCounts(run)}; cost ${formatCost(run.costUsd)}${spendNote(run)}; tokens ${tokens(run.usage)}${cacheShare(run.usage)}; ` +
      `time ${formatDuration(took)}; last event #${run.lastEventId}`,
    ...(run.forecast ? [forecastLine(run, run.forecast, now)] : []),
    ...(run.source ? [`from ${sourceName(run.source)}; ${writeBackLine(run.source)}`] : []),
    ...(run.planSummary ? [`plan: ${oneLine(run.planSummary)}`] : []),
    ...(run.error ? [`error: ${oneLine(run.error)}`] : []),
    ...(run.status === 'paused' && run.pauseMessage ? [`paused: ${oneLine(run.pauseMessage)}`] : []),
    ...(run.damage ? [damageText(run.damage, run.status)] : []),
    ...[damageFix(run)].filter((fix) => fix !== undefined),
    ...notes,
  ];
  const train = trainLine(run, now);
  if (train !== undefined) lines.push(train);
  const waits = fileWaits(run.tasks);
  for (const task of run.tasks) {
    lines.push(
      `  ${task.id.padEnd(idWidth)}  ${task.status.padEnd(9)}  ${truncateCells(oneLine(task.title), 70)}`,
    );
    const pad = ' '.repeat(idWidth + 4);
    for (const attempt of task.attempts) {
      lines.push(`${pad}${attemptLine(attempt, now)}`);
      for (const refusal of attempt.refusals ?? []) lines.push(`${pad}  ${refusalLine(attempt, refusal)}`);
    }
    const wait = waits.get(task.id);
    if (wait !== undefined) lines.push(`${pad}${describeFileWait(wait)}`);
    if (task.sourceChange !== undefined) lines.push(`${pad}${describeSourceChange(task.sourceChange)}`);
    // Whole, unlike the attempts' notes: a task's error or hold ends with the command that answers it.
    else if (task.held !== undefined) lines.push(`${pad}held: ${oneLine(task.held)}`);
    else if (task.error !== undefined && task.status !== 'done')
      lines.push(`${pad}error: ${oneLine(task.error)}`);
  }
  if (run.finalReview) {
    lines.push(`review: ${run.finalReview.verdict}: ${oneLine(run.finalReview.summary)}`);
    for (const followUp of run.finalReview.followUps) lines.push(`  follow-up: ${oneLine(followUp)}`);
  }
  return lines;
}

/** `orc show <run> <task>`: everything about one task, its result and outputs whole, then its diff. */
export function taskReport(
  runId: string,
  task: TaskRecord,
  diff: TaskDiff | undefined,
  now: number,
): string[] {
  const took = taskTimeMs(task, now);
  const lines = [
    `task ${task.id} of run ${runId}: ${oneLine(task.title)}`,
    [
      `status ${task.status}`,
      `priority ${task.priority}`,
      `${task.attempts.length} attempt${task.attempts.length === 1 ? '' : 's'}`,
      `${task.reworks} rework${task.reworks === 1 ? '' : 's'}`,
      ...(took === undefined ? [] : [`time ${formatDuration(took)}`]),
    ].join(' · '),
    `depends on: ${task.dependencies.length === 0 ? 'nothing' : task.dependencies.join(', ')}`,
    ...(task.touches?.length ? [`touches: ${task.touches.join(', ')}`] : []),
    ...(task.touched?.length ? [`changed: ${task.touched.join(', ')}`] : []),
  ];
  section(lines, 'description', task.description || '(none)');
  if (task.details) section(lines, 'details', task.details);
  if (task.sourceChange !== undefined)
    section(lines, 'changed at the source', describeSourceChange(task.sourceChange));
  if (task.held !== undefined) section(lines, 'held', task.held);
  if (task.error !== undefined) section(lines, 'error', task.error);
  for (const attempt of task.attempts) {
    lines.push('', `attempt ${attemptLine(attempt, now, false)}`);
    if (attempt.error) section(lines, `  ${attempt.error.category} error`, attempt.error.message, '    ');
    if (attempt.review)
      section(lines, `  review: ${attempt.review.verdict}`, attempt.review.feedback, '    ');
    for (const refusal of attempt.refusals ?? []) lines.push(`  ${refusalLine(attempt, refusal)}`);
    if (attempt.output !== undefined) section(lines, '  output', attempt.output, '    ');
  }
  section(lines, 'result', task.result ?? '(none yet)');
  if (diff) {
    lines.push('', `diff (${diff.source}):`);
    lines.push(...plainText(diff.diff).trimEnd().split('\n'));
  }
  return lines;
}

function attemptLine(a: Attempt, now: number, short = true): string {
  const ms = attemptMs(a, now);
  // The worker's call, then its review (the manager's), as `orc metrics` and `orc report` count them.
  const worker = workerSpend(a);
  const parts = [
    `#${a.n}`,
    `w${a.worker}`,
    a.outcome,
    ms === undefined ? '-' : formatDuration(ms),
    tokens(worker.usage),
    formatCost(worker.costUsd),
  ];
  if (short && a.error) parts.push(`${a.error.category} error: ${note(a.error.message)}`);
  const paid = a.reviewSpend ? ` (${tokens(a.reviewSpend.usage)}, ${formatCost(a.reviewSpend.costUsd)})` : '';
  if (short && a.review)
    parts.push(
      `review ${a.review.verdict}${paid}${a.review.verdict === 'accept' ? '' : `: ${note(a.review.feedback)}`}`,
    );
  else if (paid !== '') parts.push(`review${paid}`);
  return parts.join(' · ');
}

/**
 * The run's status in the words `orc ls` uses (`awaiting approval`, `paused (budget)`), and what `orc ls`
 * has no room for: a quota wait's model and exact instant, when another pause ends by itself.
 */
function statusNote(run: RunView, now: number): string {
  const words = statusText(run, now);
  if (run.status !== 'paused' || run.resumeAt === undefined) return words;
  if (run.pauseReason === 'quota')
    return `${words} (${run.quotaModel ?? 'quota'}, at ${run.resumeAt}; orc resume goes on now)`;
  return `${words}, resumes by itself at ${run.resumeAt}`;
}

/** The share of the run's input tokens read from the prompt cache. */
function cacheShare(usage: RunView['usage']): string {
  const input = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  if (usage.cacheReadTokens === 0 || input === 0) return '';
  return ` (${Math.round((100 * usage.cacheReadTokens) / input)} % of input from cache)`;
}

/** `forecast: $1.2345 in all, finishing at 14:05 (2026-11-30T14:05:00.000Z)`: the reader's time, as `orc ls` shows it, then the exact instant. */
function forecastLine(run: RunView, forecast: NonNullable<RunView['forecast']>, now: number): string {
  const finish =
    run.status === 'reviewing'
      ? 'finishing once its final review is written'
      : forecast.finishAt !== undefined
        ? Date.parse(forecast.finishAt) <= now
          ? `overdue: it was to finish at ${localTime(forecast.finishAt)} (${forecast.finishAt}), its tasks run longer than the recent ones`
          : `finishing at ${localTime(forecast.finishAt)} (${forecast.finishAt})`
        : forecast.noFinishAt === 'person'
          ? run.status === 'paused' && PAUSED_BY_CHOICE.has(run.pauseReason)
            ? `no finish time while it is paused (orc resume ${run.id} goes on)`
            : 'no finish time while it waits for a person'
          : 'no finish time yet: one comes once tasks finish again';
  return `forecast: ${formatCost(forecast.costUsd)} in all, ${finish}`;
}

/**
 * Pauses a person chose (`orc pause`, or the one that comes with `orc rollback`): nothing is asked of
 * anyone, so `orc inbox` has no item for them and the run does not "wait for a person" (a trial read
 * that after a rollback while `orc inbox` said nothing waited).
 */
export const PAUSED_BY_CHOICE: ReadonlySet<PauseReason | undefined> = new Set(['user', 'rollback']);

/** A tool call the agent was refused (outside its permission mode and allowed tools). */
function refusalLine(attempt: Attempt, refusal: ToolRefusal): string {
  const subject = refusal.subject ? ` ${truncateCells(oneLine(refusal.subject), 50)}` : '';
  return `attempt ${attempt.n} was refused ${refusal.tool}${subject}: ${note(refusal.reason)}`;
}

function tokens(usage: { inputTokens: number; outputTokens: number }): string {
  return `${formatTokens(usage.inputTokens)} in / ${formatTokens(usage.outputTokens)} out`;
}

function note(text: string): string {
  return truncateCells(oneLine(text), NOTE_CELLS);
}

function section(lines: string[], title: string, body: string, indent = '  '): void {
  lines.push(`${title}:`);
  for (const line of plainText(body).trimEnd().split('\n')) lines.push(`${indent}${line}`);
}
