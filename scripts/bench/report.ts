import { cpus, release, totalmem } from 'node:os';

export const CASE_NAMES = [
  'makespan',
  'overhead',
  'persistence',
  'reattach',
  'touches',
  'fan-out',
  'recovery',
  'scale',
  'live screen',
  'history',
  'rate limit',
  'shared limit',
  'prompt cache',
  'hostile client',
  'chaos',
  'scale out',
] as const;
export type CaseName = (typeof CASE_NAMES)[number];

export interface Target {
  op: '<=' | '>=';
  value: number;
}

/** One figure of a case; only figures with a target get PASS or MISS. */
export interface Metric {
  label: string;
  value: number;
  unit: string;
  target?: Target;
}

export interface CaseResult {
  name: CaseName;
  metrics: Metric[];
  /** The tasks of the case's run(s): every one should end done. */
  tasks: { total: number; done: number; failed: number };
  /** Finished results lost (recovery); 0 elsewhere. */
  lost: number;
  seconds: number;
  notes: string[];
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
}

export interface BenchReport {
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  cases: CaseResult[];
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
}

export function verdict(metric: Metric): 'PASS' | 'MISS' | '' {
  const { target } = metric;
  if (!target) return '';
  const ok = target.op === '<=' ? metric.value <= target.value : metric.value >= target.value;
  return ok ? 'PASS' : 'MISS';
}

/** The one table, as Markdown so it can go straight into the README's Performance section. */
export function formatTable(report: BenchReport): string {
  const rows: string[][] = [['case', 'measure', 'value', 'target', 'result']];
  for (const result of report.cases) {
    result.metrics.forEach((metric, i) => {
      rows.push([
        i === 0 ? result.name : '',
        metric.label,
        `${formatNumber(metric.value)} ${metric.unit}`.trim(),
        metric.target ? `${metric.target.op === '<=' ? '≤' : '≥'} ${formatNumber(metric.target.value)}` : '',
        // Quick runs are small and the machine is shared: the figures are not judged.
        report.quick ? '' : verdict(metric),
      ]);
    });
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => [...row[c]!].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const m = report.machine;
  return [
    line(rows[0]!),
    rule,
    ...rows.slice(1).map(line),
    '',
    `${report.quick ? 'Quick run (small cases, targets not judged)' : 'Full run'}, ${report.startedAt}, ` +
      `${report.seconds.toFixed(0)} s: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.os}`,
  ].join('\n');
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1000) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1 || abs === 0) return value.toFixed(2);
  return value.toFixed(3);
}
