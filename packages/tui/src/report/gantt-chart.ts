import type { RunReport, TimelineAttempt } from '@orc/shared';
import { formatDuration } from '../screen/format.js';
import { escapeMarkup, px } from './markup.js';

const LANE = 28;
const GUTTER = 80;
const AXIS = 26;
const TICKS = 8;

/** Colours by how an attempt ended, the legend's order. */
export const ATTEMPT_COLORS = {
  accepted: '#2e9e5b',
  rework: '#e0a526',
  failed: '#d1453b',
  interrupted: '#8c8c8c',
  running: '#3b7dd8',
} as const;

/**
 * Every worker's attempts on one time axis (a lane per worker), coloured by how each ended; attempts of
 * tasks on the critical path are outlined, so the chain that set the run's length stands out.
 */
export function ganttChart(report: RunReport, width: number): string {
  const start = Date.parse(report.createdAt);
  const end = start + Math.max(1, report.time.makespanMs);
  const reportEnd = report.finishedAt ?? report.at;
  const workers = Math.max(report.maxWorkers, ...report.timeline.map((a) => a.worker + 1));
  const plot = width - GUTTER - 12;
  const x = (iso: string) => GUTTER + ((Math.min(Date.parse(iso), end) - start) / (end - start)) * plot;
  const height = AXIS + workers * LANE + 8;
  const critical = new Set(report.time.criticalPath);
  const parts: string[] = [];
  for (let w = 0; w < workers; w++) {
    const y = AXIS + w * LANE;
    parts.push(
      `<rect x="${GUTTER}" y="${y + 2}" width="${plot}" height="${LANE - 4}" fill="${w % 2 === 0 ? '#f4f6f8' : '#eceff2'}"/>`,
      `<text x="${GUTTER - 8}" y="${y + LANE / 2 + 4}" text-anchor="end">worker ${w}</text>`,
    );
  }
  for (let i = 0; i <= TICKS; i++) {
    const tx = GUTTER + (i / TICKS) * plot;
    // The last label ends at its tick: centred, its right half fell outside the picture.
    const anchor = i === TICKS ? 'end' : 'middle';
    parts.push(
      `<line x1="${px(tx)}" y1="${AXIS - 4}" x2="${px(tx)}" y2="${height - 6}" stroke="#c9ced4" stroke-width="0.5"/>`,
      `<text x="${px(tx)}" y="${AXIS - 8}" text-anchor="${anchor}" class="tick">${tickText((i / TICKS) * (end - start), end - start)}</text>`,
    );
  }
  for (const attempt of report.timeline) {
    const x1 = x(attempt.startedAt);
    const x2 = Math.max(x1 + 2, x(attempt.endedAt ?? reportEnd));
    const y = AXIS + attempt.worker * LANE + 5;
    const onPath = critical.has(attempt.taskId);
    const label =
      x2 - x1 > 36
        ? `<text x="${px(x1 + 4)}" y="${y + 13}" class="in-bar">${escapeMarkup(attempt.taskId)}</text>`
        : '';
    parts.push(
      `<g class="attempt${onPath ? ' critical' : ''}" data-task="${escapeMarkup(attempt.taskId)}"><title>${escapeMarkup(attemptTitle(attempt, onPath))}</title>` +
        `<rect x="${px(x1)}" y="${y}" width="${px(x2 - x1)}" height="${LANE - 10}" rx="3" fill="${colorOf(attempt)}"` +
        `${onPath ? ' stroke="#1b1f24" stroke-width="2.5"' : ''}/>${label}</g>`,
    );
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline of the workers' attempts" ` +
    `id="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`
  );
}

/** Whole seconds and up read as durations; a run shorter than a minute needs tenths to tell ticks apart. */
function tickText(ms: number, spanMs: number): string {
  return spanMs < 60_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms);
}

export function colorOf(attempt: TimelineAttempt): string {
  if (attempt.verdict === 'rework') return ATTEMPT_COLORS.rework;
  if (attempt.verdict === 'fail' || attempt.outcome === 'failed') return ATTEMPT_COLORS.failed;
  if (attempt.verdict === 'accept' || attempt.outcome === 'succeeded') return ATTEMPT_COLORS.accepted;
  if (attempt.outcome === 'interrupted' || attempt.outcome === 'cancelled') return ATTEMPT_COLORS.interrupted;
  return ATTEMPT_COLORS.running;
}

function attemptTitle(attempt: TimelineAttempt, onPath: boolean): string {
  const took = attempt.endedAt
    ? formatDuration(Date.parse(attempt.endedAt) - Date.parse(attempt.startedAt))
    : 'running';
  const ending = attempt.verdict ?? attempt.outcome;
  return `${attempt.taskId} attempt ${attempt.n} on worker ${attempt.worker}: ${ending}, ${took}${onPath ? ' (critical path)' : ''}`;
}
