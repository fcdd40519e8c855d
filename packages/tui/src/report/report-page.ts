import { simulatedRoles } from '@orc/shared';
import type { FeedbackEntry, RunReport } from '@orc/shared';
import { formatCost, formatDuration, formatTokens, plural } from '../screen/format.js';
import { barChart, clip } from './bar-chart.js';
import { ATTEMPT_COLORS, ganttChart } from './gantt-chart.js';
import { escapeMarkup } from './markup.js';
import { failuresText, percent } from './report-text.js';

const WIDTH = 960;
/** Bars per chart: more would not be read; the table below has every task. */
const MOST_BARS = 30;
const FEEDBACK_ROWS = 200;

/**
 * `orc report <run> --html FILE`: one page that needs nothing else (no script, no font, no network): the
 * headline figures, the workers' timeline with the critical path outlined, cost per task, the rework and
 * failure reasons, every task, and the feedback.
 */
export function reportPage(report: RunReport): string {
  const e = escapeMarkup;
  const { spend, time } = report;
  const costBars = [...report.tasks]
    .sort((a, b) => b.spend.costUsd - a.spend.costUsd)
    .slice(0, MOST_BARS)
    .map((task) => ({
      label: task.id,
      value: task.spend.costUsd,
      text: formatCost(task.spend.costUsd),
      title: `${task.id} ${task.title}: ${formatCost(task.spend.costUsd)}, ${plural(task.attempts, 'attempt')}`,
      ...(task.onCriticalPath && { color: '#4b5fc4' }),
    }));
  const reasonBars = (groups: RunReport['reworkReasons'], color: string) =>
    groups.map((g) => ({
      label: g.reason,
      value: g.count,
      text: `${g.count}× (${plural(g.tasks.length, 'task')})`,
      title: `${g.reason}\ntasks: ${g.tasks.join(', ')}`,
      color,
    }));
  const figures: [string, string][] = [
    ['status', report.status],
    ['tasks', `${report.taskCounts['done'] ?? 0}/${report.taskTotal} done`],
    ['cost', formatCost(spend.total.costUsd)],
    ['rework rate', percent(report.reworkRate)],
    ['failure rate', percent(report.failureRate)],
    ['makespan', formatDuration(time.makespanMs)],
    ['critical path', formatDuration(time.criticalPathMs)],
    ['utilisation', percent(time.utilisation)],
    ...(report.ratings.average !== undefined
      ? [['rating', `${report.ratings.average.toFixed(1)}/5 (${report.ratings.count})`] as [string, string]]
      : []),
  ];
  const legend = Object.entries(ATTEMPT_COLORS)
    .map(([name, color]) => `<span><i style="background:${color}"></i>${name}</span>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orc report ${e(report.runId)}</title>
<style>${STYLE}</style></head>
<body>
<header><h1>Run ${e(report.runId)}${simulatedRoles(report.models) ? ` <span class="sim">${e(simulatedRoles(report.models)!)}</span>` : ''}</h1>
<p class="goal">${e(clip(report.goal, 400))}</p>
<p class="meta">manager ${e(report.models.manager.provider)}/${e(report.models.manager.model)} · workers ${e(report.models.worker.provider)}/${e(report.models.worker.model)} × ${report.maxWorkers} · started ${e(report.createdAt)}${report.finishedAt ? ` · finished ${e(report.finishedAt)}` : ''}</p>
<dl class="figures">${figures.map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${e(v)}</dd></div>`).join('')}</dl></header>
<section><h2>Timeline</h2>
<p class="legend">${legend}<span><i class="outline"></i>critical path: ${e(time.criticalPath.join(' → ') || 'none')}</span></p>
${ganttChart(report, WIDTH)}</section>
<section><h2>Cost per task</h2>
<p class="note">Workers' attempts per task (${formatCost(spend.workers.costUsd)} in all); the manager's planning and reviews cost ${formatCost(spend.manager.costUsd)}. Critical-path tasks in blue.</p>
${barChart(costBars, { width: WIDTH, color: '#7a8899', label: 'cost per task' })}
<table class="spend"><tr><th>model</th><th>role</th><th>cost</th><th>input</th><th>output</th><th>cache read</th></tr>
${spend.byModel.map((m) => `<tr><td>${e(m.model)}</td><td>${e(m.roles.join(', '))}</td><td>${formatCost(m.costUsd)}</td><td>${formatTokens(m.usage.inputTokens)}</td><td>${formatTokens(m.usage.outputTokens)}</td><td>${formatTokens(m.usage.cacheReadTokens)}</td></tr>`).join('')}
</table></section>
<section><h2>Rework reasons</h2>
<p class="note">${report.reviews.accept} accepted, ${report.reviews.rework} sent back, ${report.reviews.fail} failed by the manager.</p>
${barChart(reasonBars(report.reworkReasons, ATTEMPT_COLORS.rework), { width: WIDTH, color: ATTEMPT_COLORS.rework, label: 'rework reasons' })}
${report.failureReasons.length > 0 ? `<h3>Failure reasons</h3><p class="note">${e(failuresText(report))}.</p>${barChart(reasonBars(report.failureReasons, ATTEMPT_COLORS.failed), { width: WIDTH, color: ATTEMPT_COLORS.failed, label: 'failure reasons' })}` : ''}
</section>
<section><h2>Tasks</h2><table class="tasks">
<tr><th>task</th><th>title</th><th>status</th><th>attempts</th><th>reworks</th><th>cost</th><th>work</th><th>elapsed</th><th>lines</th><th>rating</th></tr>
${report.tasks.map((t) => `<tr${t.onCriticalPath ? ' class="critical"' : ''}><td>${e(t.id)}</td><td>${e(clip(t.title, 80))}</td><td>${e(t.status)}</td><td>${t.attempts}${t.undoneAttempts ? ` <span class="note" title="attempts a rollback undid, in its cost and work">(+${t.undoneAttempts} undone)</span>` : ''}</td><td>${t.reworks}</td><td>${formatCost(t.spend.costUsd)}</td><td>${formatDuration(t.workMs)}</td><td>${formatDuration(t.elapsedMs)}</td><td>${t.lines ? `+${t.lines.added}/−${t.lines.removed}` : ''}</td><td>${t.ratings.map((r) => r.score).join(', ')}</td></tr>`).join('\n')}
</table></section>
<section><h2>Feedback</h2>${feedbackList(report.feedback)}</section>
<footer>Made by orc report at ${e(report.at)}.</footer>
</body></html>
`;
}

function feedbackList(entries: readonly FeedbackEntry[]): string {
  if (entries.length === 0) return '<p class="empty">No verdicts, retries or ratings yet.</p>';
  const shown = entries.slice(-FEEDBACK_ROWS);
  const rows = shown.map((f) => {
    const what = f.kind === 'rating' ? `rated ${f.score}/5` : f.kind.replace('_', ' ');
    const where =
      f.taskId !== undefined ? `${f.taskId}${f.attempt !== undefined ? ` #${f.attempt}` : ''}` : 'run';
    return `<tr class="${f.kind}"><td>${escapeMarkup(f.at.slice(0, 19).replace('T', ' '))}</td><td>${escapeMarkup(where)}</td><td>${escapeMarkup(what)}</td><td>${escapeMarkup(clip(f.text, 400))}</td></tr>`;
  });
  const more =
    entries.length > shown.length
      ? `<p class="note">The latest ${shown.length} of ${entries.length}.</p>`
      : '';
  return `${more}<table class="feedback"><tr><th>when</th><th>task</th><th>what</th><th>said</th></tr>${rows.join('')}</table>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;background:#fff;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.goal{margin:0 0 4px}.meta,.note,footer{color:#5b6673;font-size:12.5px}.sim{background:#ffe08a;font-size:12px;padding:2px 6px;border-radius:3px}
.figures{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}.figures div{background:#f4f6f8;border-radius:6px;padding:6px 12px;min-width:90px}
dt{font-size:11.5px;color:#5b6673}dd{margin:0;font-size:17px;font-weight:600}
svg text{font:12px system-ui,sans-serif;fill:#1b1f24}svg text.tick{font-size:10.5px;fill:#5b6673}svg text.in-bar{fill:#fff;font-size:11px}
.legend span{margin-right:14px;font-size:12.5px}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-2px}
.legend i.outline{border:2.5px solid #1b1f24;width:8px;height:8px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin-top:8px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eceff2;vertical-align:top}
tr.critical td:first-child{font-weight:700}tr.rework td:nth-child(3){color:#a86f00}tr.fail td:nth-child(3),tr.attempt_failed td:nth-child(3){color:#b3261e}
.empty{color:#5b6673;font-style:italic}
`;
