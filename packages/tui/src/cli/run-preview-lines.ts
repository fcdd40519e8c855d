import { simulatedLabel } from '@orc/shared';
import type { RunPreview, RunSummary } from '@orc/shared';
import { truncate } from './output.js';

/** `orc run … --dry-run` for people: what would run, in what order, and what is held and why. */
export function previewLines(preview: RunPreview): string[] {
  const lines: string[] = [];
  const { source, order, held, skipped, excluded } = preview;
  const where = source ? `${sourceName(source)}: ` : '';
  lines.push(
    `${where}would run ${order.length} task${order.length === 1 ? '' : 's'}${simulatedLabel(preview)}`,
  );
  if (source) lines.push(writeBackLine(source));
  if (order.length > 0) lines.push('in this order (several at once as workers allow):');
  const width = Math.max(2, ...order.map((t) => t.id.length), ...held.map((t) => t.id.length));
  order.forEach((task, i) => {
    const after = task.dependencies.length > 0 ? `  (after ${task.dependencies.join(', ')})` : '';
    lines.push(
      `  ${String(i + 1).padStart(3)}. ${task.id.padEnd(width)}  ${task.priority.padEnd(8)} ${truncate(task.title, 60)}${after}`,
    );
  });
  if (held.length > 0) {
    lines.push('held (they wait for a person):');
    for (const task of held) lines.push(`       ${task.id.padEnd(width)}  ${truncate(task.reason, 90)}`);
  }
  if (skipped.length > 0) lines.push(`already done or cancelled: ${listed(skipped)}`);
  if (excluded.length > 0) lines.push(`left out by --only: ${listed(excluded)}`);
  return lines;
}

/** Whether a run writes its progress into the Task Master file (named just before), said where it starts. */
export function writeBackLine(source: NonNullable<RunSummary['source']>): string {
  return source.writeBack
    ? 'progress is written back there as tasks go'
    : 'nothing is written there: the run is on the simulated model, and a simulated "done" is not work done (--write-simulated writes it)';
}

/** `Task Master <file> (tag <tag>)`. */
export function sourceName(source: NonNullable<RunSummary['source']>): string {
  return `Task Master ${source.file} (tag ${source.tag})`;
}

function listed(ids: readonly string[]): string {
  return ids.length <= 30 ? ids.join(', ') : `${ids.slice(0, 30).join(', ')} and ${ids.length - 30} more`;
}
