import {
  describeFileWait,
  describeSourceChange,
  type Attempt,
  type FileWait,
  type TaskRecord,
  workerSpend,
} from '@orc/shared';
import { attemptMs, formatCost, formatDuration, formatTokens, plural, taskTimeMs } from './format.js';
import { ERROR_CATEGORY_COLOR, TASK_STATUS_COLOR, colored } from './status-style.js';
import { escapeTags, plainText } from './text-cells.js';

/**
 * Everything known about one task, for the detail view (Enter), as blessed markup: with the files it
 * touches and, when it waits for another task's, which.
 */
export function renderTaskDetail(task: TaskRecord, now: number, wait?: FileWait): string {
  const out: string[] = [];
  out.push(`{bold}${escapeTags(task.id)}  ${escapeTags(plainText(task.title))}{/bold}`);
  const ms = taskTimeMs(task, now);
  out.push(
    [
      `status ${colored(TASK_STATUS_COLOR[task.status], task.status)}`,
      `priority ${task.priority}`,
      plural(task.attempts.length, 'attempt'),
      plural(task.reworks, 'rework'),
      ...(ms === undefined ? [] : [`time ${formatDuration(ms)}`]),
    ].join(' · '),
  );
  out.push(
    `depends on: ${task.dependencies.length === 0 ? 'nothing' : escapeTags(task.dependencies.join(', '))}`,
  );
  if (task.sourceChange !== undefined)
    section(out, '{yellow-fg}Changed at the source{/yellow-fg}', describeSourceChange(task.sourceChange));
  if (task.held !== undefined) section(out, '{yellow-fg}Held{/yellow-fg}', task.held);
  if (wait !== undefined) section(out, '{yellow-fg}Waits for files{/yellow-fg}', describeFileWait(wait));
  if (task.touches !== undefined && task.touches.length > 0) section(out, 'Touches', task.touches.join('\n'));
  if (task.touched !== undefined && task.touched.length > 0)
    section(out, 'Changed (its accepted diff)', task.touched.join('\n'));
  section(out, 'Description', task.description || '(none)');
  if (task.details) section(out, 'Details', task.details);
  if (task.error !== undefined) section(out, '{red-fg}Error{/red-fg}', task.error);
  if (task.result !== undefined) section(out, 'Result', task.result);
  for (const attempt of task.attempts) renderAttempt(out, attempt, now);
  return out.join('\n');
}

function renderAttempt(out: string[], a: Attempt, now: number): void {
  const ms = attemptMs(a, now);
  // The worker's call, then its review (the manager's), as `orc metrics` and `orc report` count them.
  const spend = (s: { usage: Attempt['usage']; costUsd: number }) =>
    `${formatTokens(s.usage.inputTokens)} in / ${formatTokens(s.usage.outputTokens)} out · ${formatCost(s.costUsd)}`;
  out.push('');
  out.push(
    `{bold}Attempt ${a.n}{/bold} · w${a.worker} · ${a.outcome}` +
      (ms === undefined ? '' : ` · ${formatDuration(ms)}`) +
      ` · ${spend(workerSpend(a))}` +
      (a.reviewSpend ? ` · review ${spend(a.reviewSpend)}` : ''),
  );
  if (a.sessionId !== undefined) {
    const resumed = a.resumes === undefined ? '' : ` (goes on with attempt ${a.resumes}'s session)`;
    out.push(`  session ${escapeTags(a.sessionId)}${resumed}`);
  }
  for (const refusal of a.refusals ?? []) {
    const subject = refusal.subject === '' ? '' : ` ${refusal.subject}`;
    out.push(
      `  {yellow-fg}refused{/yellow-fg} ${escapeTags(plainText(`${refusal.tool}${subject}: ${refusal.reason}`))}`,
    );
  }
  if (a.error !== undefined) {
    const tag = colored(ERROR_CATEGORY_COLOR[a.error.category], `[${a.error.category.toUpperCase()}]`);
    out.push(`  {bold}${tag}{/bold} ${escapeTags(plainText(a.error.message))}`);
  }
  if (a.review !== undefined) {
    out.push(`  review: ${a.review.verdict}`);
    out.push(indent(a.review.feedback));
  }
  if (a.output !== undefined) {
    out.push('  output:');
    out.push(indent(a.output));
  }
}

function section(out: string[], title: string, body: string): void {
  out.push('');
  out.push(`{bold}${title}{/bold}`);
  out.push(indent(body));
}

function indent(text: string): string {
  return escapeTags(plainText(text))
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
