import type { DaemonVitals, LatencyVitals } from '@orc/shared';
import type { MetricObjectWithValues, MetricValueWithName } from 'prom-client';

type Metric = MetricObjectWithValues<MetricValueWithName<string>>;

/**
 * The essentials of the metrics for `daemon.health`, read from the very values a scrape gets: gauges
 * and counters summed over their labels, histograms as a count, a mean and p50/p99 estimated from the
 * buckets (as Prometheus' `histogram_quantile` does).
 */
export function vitalsOf(metrics: readonly Metric[], port: number | undefined): DaemonVitals {
  const byName = new Map(metrics.map((metric) => [metric.name, metric]));
  const values = (name: string) => byName.get(name)?.values ?? [];
  const total = (name: string, where: (labels: Record<string, unknown>) => boolean = () => true) =>
    values(name)
      .filter((v) => where(v.labels))
      .reduce((sum, v) => sum + v.value, 0);
  const byLabel = (name: string, label: string) => {
    const counts: Record<string, number> = {};
    for (const v of values(name)) {
      const key = String(v.labels[label]);
      if (v.value > 0) counts[key] = (counts[key] ?? 0) + v.value;
    }
    return counts;
  };
  const busy = total('orc_workers', (l) => l['state'] === 'busy');
  const workers = busy + total('orc_workers', (l) => l['state'] === 'idle');
  const kind = (k: string) => total('orc_tokens_total', (l) => l['kind'] === k);
  const status = (s: string) => total('orc_model_refusals_total', (l) => l['status'] === s);
  return {
    ...(port !== undefined && { port }),
    runs: byLabel('orc_runs', 'status'),
    tasks: byLabel('orc_tasks', 'status'),
    calls: { inFlight: total('orc_model_calls_in_flight'), waiting: total('orc_model_calls_waiting') },
    readyTasks: total('orc_ready_tasks'),
    workers: { busy, total: workers, utilization: workers === 0 ? 0 : busy / workers },
    tokens: {
      input: kind('input'),
      output: kind('output'),
      cacheRead: kind('cache_read'),
      cacheWrite: kind('cache_write'),
    },
    costUsd: total('orc_cost_usd_total'),
    refusals: { '429': status('429'), '529': status('529') },
    quotaWait: latency(values('orc_quota_wait_seconds')),
    subscribers: total('orc_event_subscribers'),
    eventDelivery: latency(values('orc_event_delivery_seconds')),
    eventFanOut: latency(values('orc_event_fanout_seconds')),
    journalWrite: latency(values('orc_journal_write_seconds')),
  };
}

/** A histogram's values (every label set merged) as milliseconds. */
function latency(values: readonly MetricValueWithName<string>[]): LatencyVitals {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const v of values) {
    if (v.metricName?.endsWith('_bucket')) {
      const le = v.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels['le']);
      buckets.set(le, (buckets.get(le) ?? 0) + v.value);
    } else if (v.metricName?.endsWith('_count')) count += v.value;
    else if (v.metricName?.endsWith('_sum')) sum += v.value;
  }
  const bounds = [...buckets.entries()].sort(([a], [b]) => a - b);
  const ms = (seconds: number) => Math.round(seconds * 1e6) / 1e3;
  return {
    count,
    meanMs: count === 0 ? 0 : ms(sum / count),
    p50Ms: ms(quantile(0.5, bounds, count)),
    p99Ms: ms(quantile(0.99, bounds, count)),
  };
}

/** Linear interpolation inside the bucket the rank falls in; the highest finite bound past the last. */
export function quantile(q: number, bounds: readonly [number, number][], count: number): number {
  if (count === 0) return 0;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of bounds) {
    if (cumulative >= rank) {
      if (!Number.isFinite(le)) return lower;
      const inBucket = cumulative - below;
      return inBucket === 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
    }
    lower = Number.isFinite(le) ? le : lower;
    below = cumulative;
  }
  return lower;
}
