import { PauseReason, RunStatus, TaskStatus } from '@orc/shared';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the registry reads from DaemonMetrics when scraped. */
export interface MetricsSource {
  runs(): readonly { status: string; pauseReason?: string | undefined; taskCounts: Record<string, number> }[];
  workload(): { ready: number; busyWorkers: number; workers: number };
  calls(): { inFlight: number; waiting: number };
  callSeries(): Iterable<{
    role: string;
    model: string;
    outcomes: Record<string, number>;
    tokens: Record<string, number>;
    costUsd: number;
  }>;
  /** Refused answers by `model\u0000status`. */
  refusals(): ReadonlyMap<string, number>;
  subscribers(): number;
  eventCounts(): ReadonlyMap<string, number>;
}

/** The registry and the histograms DaemonMetrics observes into. */
export interface MetricsRegistry {
  registry: Registry;
  /** The names of our metrics (not the process's). */
  own: string[];
  quotaWait: Histogram<'model'>;
  delivery: Histogram;
  fanOut: Histogram;
  journalWrite: Histogram;
}

const FINISHED = new Set<string>(['completed', 'failed', 'cancelled', 'damaged']);

/**
 * The daemon's Prometheus registry over DaemonMetrics' counts, made when the metrics are first read or
 * once the daemon serves (this module loads prom-client: ~50 ms of CPU a restart would spend before
 * its runs go on).
 */
export function createMetricsRegistry(
  source: MetricsSource,
  options: { processMetrics: boolean },
): MetricsRegistry {
  const registry = new Registry();
  const registers = [registry];
  const runs = () => source.runs();
  const calls = () => source.calls();
  const workload = () => source.workload();
  new Gauge({
    name: 'orc_runs',
    help: 'Runs the daemon knows, by status (finished ones included).',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = zeroes(RunStatus.options);
      for (const run of runs()) counts[run.status] = (counts[run.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'orc_runs_paused',
    help: 'Paused runs, by why they wait (quota: the quota governor holds them until a time).',
    labelNames: ['reason'],
    registers,
    collect() {
      const counts = zeroes(PauseReason.options);
      for (const run of runs()) {
        if (run.status === 'paused' && run.pauseReason) counts[run.pauseReason]! += 1;
      }
      for (const [reason, n] of Object.entries(counts)) this.set({ reason }, n);
    },
  });
  new Gauge({
    name: 'orc_tasks',
    help: 'Tasks of the runs not yet finished, by status.',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = zeroes(TaskStatus.options);
      for (const run of runs()) {
        if (FINISHED.has(run.status)) continue;
        for (const [status, n] of Object.entries(run.taskCounts)) counts[status] = (counts[status] ?? 0) + n;
      }
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'orc_ready_tasks',
    help: 'Tasks ready for a worker (the ready queues of every run).',
    registers,
    collect() {
      this.set(workload().ready);
    },
  });
  new Gauge({
    name: 'orc_workers',
    help: 'Workers of executing runs: busy (holding a task) or idle.',
    labelNames: ['state'],
    registers,
    collect() {
      const load = workload();
      this.set({ state: 'busy' }, load.busyWorkers);
      this.set({ state: 'idle' }, load.workers - load.busyWorkers);
    },
  });
  new Gauge({
    name: 'orc_worker_utilization',
    help: 'The share of the workers of executing runs holding a task (0 when none run).',
    registers,
    collect() {
      const load = workload();
      this.set(load.workers === 0 ? 0 : load.busyWorkers / load.workers);
    },
  });
  new Gauge({
    name: 'orc_model_calls_in_flight',
    help: 'Model calls sent and not yet answered, over every run (those of the Redis backend’s workers too).',
    registers,
    collect() {
      this.set(calls().inFlight);
    },
  });
  new Gauge({
    name: 'orc_model_calls_waiting',
    help: 'Model calls waiting for their quota or a place among the calls in flight (in the daemon, or queued and waiting at a worker).',
    registers,
    collect() {
      this.set(calls().waiting);
    },
  });
  const series = () => source.callSeries();
  new Counter({
    name: 'orc_model_calls_total',
    help: 'Model calls ended, by role (manager, worker), model and outcome (succeeded, failed, cancelled).',
    labelNames: ['role', 'model', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const { role, model, outcomes } of series()) {
        for (const [outcome, n] of Object.entries(outcomes)) this.inc({ role, model, outcome }, n);
      }
    },
  });
  new Counter({
    name: 'orc_model_refusals_total',
    help: 'Answers the API refused: 429 (rate limited) and 529 (overloaded), by model.',
    labelNames: ['model', 'status'],
    registers,
    collect() {
      this.reset();
      for (const [key, n] of source.refusals()) {
        const [model, status] = key.split('\u0000') as [string, string];
        this.inc({ model, status }, n);
      }
    },
  });
  new Counter({
    name: 'orc_tokens_total',
    help: 'Tokens of answered model calls, by role, model and kind (input, output, cache_read, cache_write).',
    labelNames: ['role', 'model', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const { role, model, tokens } of series()) {
        for (const [kind, n] of Object.entries(tokens)) this.inc({ role, model, kind }, n);
      }
    },
  });
  new Counter({
    name: 'orc_cost_usd_total',
    help: 'Dollars spent on model calls, by role and model.',
    labelNames: ['role', 'model'],
    registers,
    collect() {
      this.reset();
      for (const { role, model, costUsd } of series()) this.inc({ role, model }, costUsd);
    },
  });
  const quotaWait = new Histogram({
    name: 'orc_quota_wait_seconds',
    help: 'How long each call waited in the quota governor (the daemon’s, or its worker’s) before it was sent, by model.',
    labelNames: ['model'],
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers,
  });
  new Gauge({
    name: 'orc_event_subscribers',
    help: 'Open event subscriptions (runs.events, orc logs --follow, attached terminals).',
    registers,
    collect() {
      this.set(source.subscribers());
    },
  });
  const delivery = new Histogram({
    name: 'orc_event_delivery_seconds',
    help: "From the emit of a batch's oldest event to the batch's hand-over to a live subscriber, the journal's fsync included (one per batch and subscriber).",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const fanOut = new Histogram({
    name: 'orc_event_fanout_seconds',
    help: "From a live batch's group commit to its hand-over to a subscriber's socket: the daemon's fan-out (one per batch and subscriber).",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const journalWrite = new Histogram({
    name: 'orc_journal_write_seconds',
    help: "One group commit of a run's journal: append and fsync.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const eventCounts = source.eventCounts();
  new Counter({
    name: 'orc_events_total',
    help: "Events written to the runs' journals, by type (task.completed counts finished tasks).",
    labelNames: ['type'],
    registers,
    collect() {
      this.reset();
      for (const [type, n] of eventCounts) this.inc({ type }, n);
    },
  });
  const own = registry.getMetricsAsArray().map((metric) => metric.name);
  // CPU, memory, event-loop delay, GC: the daemon process's own, not an in-process engine's.
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return { registry, own, quotaWait, delivery, fanOut, journalWrite };
}

function zeroes(keys: readonly string[]): Record<string, number> {
  return Object.fromEntries(keys.map((key) => [key, 0]));
}
