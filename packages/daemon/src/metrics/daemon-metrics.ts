import type { DaemonVitals, OrcEvent, RunSummary } from '@orc/shared';
import type { Clock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import type { CallShape } from '../quota/token-estimator.js';
import type { CallObserver, CallOutcome } from '../quota/quota-governor.js';
import type { JournalObserver } from '../run/run-journal.js';
import type { MetricsRegistry, MetricsSource } from './metrics-registry.js';
import { Observations } from './observations.js';
import { vitalsOf } from './vitals-of.js';

/** What a scrape reads from the engine at that moment. */
export interface EngineReadings {
  /** Every run the daemon knows (finished ones from the index). */
  runs(): Iterable<Pick<RunSummary, 'status' | 'pauseReason' | 'taskCounts'>>;
  /** Over the runs in memory: ready tasks, and the workers of executing runs. */
  workload(): { ready: number; busyWorkers: number; workers: number };
  /** The quota governor: calls sent and not answered, calls waiting to be admitted. */
  calls(): { inFlight: number; waiting: number };
}

const TOKEN_KINDS = [
  ['input', 'inputTokens'],
  ['output', 'outputTokens'],
  ['cache_read', 'cacheReadTokens'],
  ['cache_write', 'cacheWriteTokens'],
] as const;

type TokenKind = (typeof TOKEN_KINDS)[number][0];

/** One role and model's calls, counted in plain numbers and handed to the counters when scraped. */
interface CallSeries {
  role: string;
  model: string;
  outcomes: { succeeded: number; failed: number; cancelled: number };
  tokens: Record<TokenKind, number>;
  costUsd: number;
}

/**
 * The daemon's Prometheus metrics, in a registry of its own (several engines in one process stay apart).
 * Counters and histograms are fed as things happen: every model call by the quota governor, every group
 * commit and live delivery by the runs' journals. Gauges (runs, tasks, workers, calls in flight) are read
 * from the engine when scraped, so they cost nothing between scrapes. Measured with the quick bench,
 * main against this, alternated twice on a shared machine (load 16-19): the daemon's CPU for 1,000 tasks
 * 1,730 and 1,500 ms before, 1,590 and 1,470 ms after; peak RSS 140 MB before, 146 MB after.
 *
 * What is fed is kept here in plain numbers; prom-client and the registry over them (metrics-registry.ts)
 * are loaded at the first read, or once the daemon serves: loading prom-client took ~50 ms of the CPU a
 * restart spends before its runs go on.
 */
export class DaemonMetrics implements CallObserver, JournalObserver {
  /** The loopback port the metrics are served on, once the daemon serves them. */
  port: number | undefined;
  private readings: EngineReadings | undefined;
  private readonly scrape = new Map<string, unknown>();
  private registry: Promise<MetricsRegistry> | undefined;
  private readonly source: MetricsSource;
  private readonly processMetrics: boolean;
  private contentTypeRead: string | undefined;
  /** Refused answers (429, 529), by `model\u0000status`. */
  private readonly refusals = new Map<string, number>();
  private subscribers = 0;
  /** Seconds each call waited for its quota, by model (the histogram's label). */
  private readonly quotaWait = new Observations();
  private readonly delivery = new Observations();
  private readonly fanOut = new Observations();
  private readonly journalWrite = new Observations();
  /**
   * Counts kept in plain numbers on the engine's paths and handed to prom-client when scraped: its `inc`
   * with labels hashes them each time (1.5 µs, measured), and every task makes a dozen such counts.
   */
  private readonly eventCounts = new Map<string, number>();
  private readonly callSeries = new Map<string, CallSeries>();

  constructor(
    private readonly clock: Clock,
    options: { processMetrics?: boolean } = {},
  ) {
    this.processMetrics = options.processMetrics === true;
    this.source = {
      runs: () => this.reading('runs', (r) => [...r.runs()], []),
      workload: () => this.reading('workload', (r) => r.workload(), { ready: 0, busyWorkers: 0, workers: 0 }),
      calls: () => this.readings?.calls() ?? { inFlight: 0, waiting: 0 },
      callSeries: () => this.callSeries.values(),
      refusals: () => this.refusals,
      subscribers: () => this.subscribers,
      eventCounts: () => this.eventCounts,
    };
  }

  /**
   * The registry, made at the first read or when the daemon begins to serve (`load`): observations made
   * before it are kept and handed over then.
   */
  load(): Promise<MetricsRegistry> {
    this.registry ??= import('./metrics-registry.js').then(({ createMetricsRegistry }) => {
      const made = createMetricsRegistry(this.source, { processMetrics: this.processMetrics });
      this.quotaWait.attach((value, model) => made.quotaWait.observe({ model: model! }, value));
      this.delivery.attach((value) => made.delivery.observe(value));
      this.fanOut.attach((value) => made.fanOut.observe(value));
      this.journalWrite.attach((value) => made.journalWrite.observe(value));
      this.contentTypeRead = made.registry.contentType;
      return made;
    });
    return this.registry;
  }

  /**
   * The engine read once per scrape: three gauges go over the runs, two over the workload. Kept until
   * the next turn of the event loop, which a scrape (all of it in promise callbacks) does not reach.
   */
  private reading<T>(key: string, read: (readings: EngineReadings) => T, none: T): T {
    if (!this.readings) return none;
    if (!this.scrape.has(key)) {
      if (this.scrape.size === 0) setImmediate(() => this.scrape.clear());
      this.scrape.set(key, read(this.readings));
    }
    return this.scrape.get(key) as T;
  }

  /** Where the gauges read from, once the engine is open. */
  read(readings: EngineReadings): void {
    this.readings = readings;
  }

  // ── Fed by the quota governor ────────────────────────────────────────────────────────────────────

  admitted(call: CallShape, waitedMs: number): void {
    this.quotaWait.observe(waitedMs / 1000, call.model);
  }

  ended(call: CallShape, outcome: CallOutcome): void {
    const series = this.seriesOf(call);
    if (outcome.kind === 'succeeded') {
      series.outcomes.succeeded += 1;
      for (const [kind, field] of TOKEN_KINDS) series.tokens[kind] += outcome.usage[field];
      series.costUsd += outcome.costUsd;
      return;
    }
    const { error } = outcome;
    if (error instanceof CallCancelledError) series.outcomes.cancelled += 1;
    else series.outcomes.failed += 1;
    const status = error instanceof ModelError ? error.details.status : undefined;
    if (status === 429 || status === 529) {
      const key = `${call.model}\u0000${status}`;
      this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
    }
  }

  /** A role and model's counts, made on its first call. */
  private seriesOf(call: CallShape): CallSeries {
    const role = call.purpose === 'work' ? 'worker' : 'manager';
    const { model } = call;
    const key = `${role}\u0000${model}`;
    let series = this.callSeries.get(key);
    if (!series) {
      series = {
        role,
        model,
        outcomes: { succeeded: 0, failed: 0, cancelled: 0 },
        tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
        costUsd: 0,
      };
      this.callSeries.set(key, series);
    }
    return series;
  }

  // ── Fed by the runs' journals ────────────────────────────────────────────────────────────────────

  written(events: readonly OrcEvent[], ms: number): void {
    this.journalWrite.observe(ms / 1000);
    for (const event of events) this.eventCounts.set(event.type, (this.eventCounts.get(event.type) ?? 0) + 1);
  }

  /**
   * Once per batch, for its oldest event (the longest wait in it): per event, parsing each `at` and
   * observing it for every subscriber was 7 % of the daemon's CPU with ten subscribers on a 100k run.
   */
  delivered(oldestAt: string, committedAt: number): void {
    const now = this.clock.now();
    this.delivery.observe(Math.max(0, now - Date.parse(oldestAt)) / 1000);
    this.fanOut.observe(Math.max(0, now - committedAt) / 1000);
  }

  subscribed(delta: 1 | -1): void {
    this.subscribers += delta;
  }

  // ── Read ─────────────────────────────────────────────────────────────────────────────────────────

  /** Prometheus' text format, as the metrics port serves it. */
  async text(): Promise<string> {
    return (await this.load()).registry.metrics();
  }

  /** The text format's content type (prom-client's, once loaded). */
  get contentType(): string {
    return this.contentTypeRead ?? PROMETHEUS_TEXT;
  }

  /** The same metrics as prom-client's JSON (name, help, type, values with their labels). */
  async json(): Promise<unknown[]> {
    const { registry } = await this.load();
    return (await registry.getMetricsAsJSON()).map(({ name, help, type, values }) => ({
      name,
      help,
      type,
      values,
    }));
  }

  /** The essentials, summed over their labels, for `daemon.health`. */
  async vitals(): Promise<DaemonVitals> {
    // Only ours: the process's own read /proc, and `daemon.health` is every client's first call.
    const { registry, own } = await this.load();
    const read = await Promise.all(own.map((name) => registry.getSingleMetric(name)!.get()));
    return vitalsOf(read, this.port);
  }
}

/** prom-client's text format (version 0.0.4). */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
