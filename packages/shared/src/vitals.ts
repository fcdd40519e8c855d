import * as z from 'zod';

/** A latency as a histogram knows it: how many were measured, their mean, and p50/p99 estimated from buckets. */
export const LatencyVitals = z.object({
  count: z.number().int().nonnegative(),
  meanMs: z.number().nonnegative(),
  p50Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
});
export type LatencyVitals = z.infer<typeof LatencyVitals>;

/**
 * The essentials of the daemon's Prometheus metrics, as `daemon.health` reports them: the same figures
 * (`orc metrics` and the metrics port have them all, with their labels), summed over the labels.
 */
export const DaemonVitals = z.object({
  /** The loopback port the metrics are served on; absent when `monitoring.metrics_port` is unset. */
  port: z.number().int().positive().optional(),
  /** Every run the daemon knows, by status. */
  runs: z.record(z.string(), z.number().int().nonnegative()),
  /** The tasks of runs not yet finished, by status. */
  tasks: z.record(z.string(), z.number().int().nonnegative()),
  /** Model calls sent and not yet answered, and calls waiting for their quota or a place. */
  calls: z.object({ inFlight: z.number().int().nonnegative(), waiting: z.number().int().nonnegative() }),
  /** Tasks ready for a worker, over every run. */
  readyTasks: z.number().int().nonnegative(),
  /** Workers of executing runs: holding a task, in all, and the share busy (0 when there are none). */
  workers: z.object({
    busy: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    utilization: z.number().min(0).max(1),
  }),
  /** Since the daemon started: tokens by kind and dollars spent, over every model and role. */
  tokens: z.object({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cacheRead: z.number().nonnegative(),
    cacheWrite: z.number().nonnegative(),
  }),
  costUsd: z.number().nonnegative(),
  /** Answers the API refused since the daemon started: 429 (rate limited) and 529 (overloaded). */
  refusals: z.object({ '429': z.number().int().nonnegative(), '529': z.number().int().nonnegative() }),
  /** Calls admitted by the quota governor, and how long they waited for it. */
  quotaWait: LatencyVitals,
  /** Open event subscriptions (`runs.events`, `orc logs --follow`, attached terminals). */
  subscribers: z.number().int().nonnegative(),
  /** From an event's emit to its batch written to a live subscriber's socket (the journal's fsync included). */
  eventDelivery: LatencyVitals,
  /**
   * The daemon's fan-out: from a live batch's group commit (`committedAt`) to its frame written to a
   * subscriber's socket, the wait behind what is queued to a slow subscriber and a catch-up from the file
   * included. What comes after is the network and the client.
   */
  eventFanOut: LatencyVitals,
  /** One group commit of a run's journal: append and fsync. */
  journalWrite: LatencyVitals,
});
export type DaemonVitals = z.infer<typeof DaemonVitals>;

/** `orc metrics` and `daemon.metrics`: Prometheus' text format, or prom-client's JSON of the same metrics. */
export const MetricsInput = z
  .strictObject({ format: z.enum(['prometheus', 'json']).default('prometheus') })
  .prefault({});
export type MetricsInput = z.input<typeof MetricsInput>;
