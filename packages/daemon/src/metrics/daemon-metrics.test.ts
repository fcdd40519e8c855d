import type { OrcEvent, RunSummary, Usage } from '@orc/shared';
import { ManualClock } from '@orc/test-support';
import { describe, expect, it } from 'vitest';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import { QuotaGovernor } from '../quota/quota-governor.js';
import { DaemonMetrics, type EngineReadings } from './daemon-metrics.js';

const USAGE: Usage = { inputTokens: 1000, outputTokens: 200, cacheReadTokens: 50, cacheWriteTokens: 0 };
const work = {
  purpose: 'work' as const,
  model: 'claude-sonnet-5-5',
  system: '',
  prompt: 'x',
  maxTokens: 100,
};
const review = { ...work, purpose: 'review' as const, model: 'claude-opus-5-5' };

const event = (type: string, at: number): OrcEvent =>
  ({ id: 1, runId: 'r1', at: new Date(at).toISOString(), type }) as unknown as OrcEvent;

/** The value of one sample of the text format, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('DaemonMetrics', () => {
  it('counts calls, tokens, cost and refusals by role and model as the governor reports them', async () => {
    const clock = new ManualClock();
    const metrics = new DaemonMetrics(clock);
    const governor = new QuotaGovernor(clock, 4, metrics);
    const one = await governor.admit({ runId: 'r1', quota: undefined, call: work });
    one.succeeded(USAGE, 0.0125);
    const two = await governor.admit({ runId: 'r1', quota: undefined, call: review });
    two.succeeded(USAGE, 0.5);
    const three = await governor.admit({ runId: 'r1', quota: undefined, call: work });
    three.failed(new ModelError('transient', 'rate limited', { status: 429 }));
    const four = await governor.admit({ runId: 'r1', quota: undefined, call: work });
    four.failed(new ModelError('transient', 'overloaded', { status: 529 }));
    const five = await governor.admit({ runId: 'r1', quota: undefined, call: work });
    five.failed(new CallCancelledError('stopped'));

    const text = await metrics.text();
    expect(
      sample(text, 'orc_model_calls_total{role="worker",model="claude-sonnet-5-5",outcome="succeeded"}'),
    ).toBe(1);
    expect(
      sample(text, 'orc_model_calls_total{role="manager",model="claude-opus-5-5",outcome="succeeded"}'),
    ).toBe(1);
    expect(
      sample(text, 'orc_model_calls_total{role="worker",model="claude-sonnet-5-5",outcome="failed"}'),
    ).toBe(2);
    expect(
      sample(text, 'orc_model_calls_total{role="worker",model="claude-sonnet-5-5",outcome="cancelled"}'),
    ).toBe(1);
    expect(sample(text, 'orc_tokens_total{role="worker",model="claude-sonnet-5-5",kind="input"}')).toBe(1000);
    expect(sample(text, 'orc_tokens_total{role="manager",model="claude-opus-5-5",kind="cache_read"}')).toBe(
      50,
    );
    expect(sample(text, 'orc_cost_usd_total{role="worker",model="claude-sonnet-5-5"}')).toBe(0.0125);
    expect(sample(text, 'orc_model_refusals_total{model="claude-sonnet-5-5",status="429"}')).toBe(1);
    expect(sample(text, 'orc_model_refusals_total{model="claude-sonnet-5-5",status="529"}')).toBe(1);
    expect(sample(text, 'orc_quota_wait_seconds_count{model="claude-sonnet-5-5"}')).toBe(4);

    const vitals = await metrics.vitals();
    expect(vitals.tokens).toEqual({ input: 2000, output: 400, cacheRead: 100, cacheWrite: 0 });
    expect(vitals.costUsd).toBeCloseTo(0.5125, 10);
    expect(vitals.refusals).toEqual({ '429': 1, '529': 1 });
    expect(vitals.quotaWait.count).toBe(5);
  });

  it('measures how long a call waited for its place', async () => {
    const clock = new ManualClock();
    const metrics = new DaemonMetrics(clock);
    const governor = new QuotaGovernor(clock, 1, metrics);
    const first = await governor.admit({ runId: 'r1', quota: undefined, call: work });
    const second = governor.admit({ runId: 'r2', quota: undefined, call: work });
    expect((await metrics.vitals()).calls).toEqual({ inFlight: 0, waiting: 0 }); // no readings yet
    metrics.read({
      runs: (): Pick<RunSummary, 'status' | 'pauseReason' | 'taskCounts'>[] => [],
      workload: () => ({ ready: 0, busyWorkers: 0, workers: 0 }),
      calls: () => ({ inFlight: governor.inFlightCalls, waiting: governor.waitingCalls }),
    });
    expect((await metrics.vitals()).calls).toEqual({ inFlight: 1, waiting: 1 });
    clock.advance(2500);
    first.succeeded(USAGE);
    (await second).succeeded(USAGE);
    const text = await metrics.text();
    // One call went at once, the other after 2.5 s: the 1 s bucket holds one, the 5 s bucket both.
    expect(sample(text, 'orc_quota_wait_seconds_bucket{le="1",model="claude-sonnet-5-5"}')).toBe(1);
    expect(sample(text, 'orc_quota_wait_seconds_bucket{le="5",model="claude-sonnet-5-5"}')).toBe(2);
    expect(sample(text, 'orc_quota_wait_seconds_sum{model="claude-sonnet-5-5"}')).toBe(2.5);
  });

  it('reads runs, tasks, workers and the ready queue from the engine when scraped', async () => {
    const metrics = new DaemonMetrics(new ManualClock());
    const readings: EngineReadings = {
      runs: (): Pick<RunSummary, 'status' | 'pauseReason' | 'taskCounts'>[] => [
        { status: 'executing', taskCounts: { done: 2, running: 3, ready: 4 } },
        { status: 'paused', pauseReason: 'quota', taskCounts: { pending: 5 } },
        { status: 'completed', taskCounts: { done: 7 } },
      ],
      workload: () => ({ ready: 4, busyWorkers: 3, workers: 4 }),
      calls: () => ({ inFlight: 3, waiting: 0 }),
    };
    metrics.read(readings);
    const text = await metrics.text();
    expect(sample(text, 'orc_runs{status="executing"}')).toBe(1);
    expect(sample(text, 'orc_runs{status="completed"}')).toBe(1);
    expect(sample(text, 'orc_runs{status="failed"}')).toBe(0);
    expect(sample(text, 'orc_runs_paused{reason="quota"}')).toBe(1);
    // Tasks of finished runs are not live work: the completed run's 7 are not counted.
    expect(sample(text, 'orc_tasks{status="done"}')).toBe(2);
    expect(sample(text, 'orc_tasks{status="pending"}')).toBe(5);
    expect(sample(text, 'orc_ready_tasks')).toBe(4);
    expect(sample(text, 'orc_workers{state="busy"}')).toBe(3);
    expect(sample(text, 'orc_worker_utilization')).toBe(0.75);
    const vitals = await metrics.vitals();
    expect(vitals.runs).toEqual({ executing: 1, paused: 1, completed: 1 });
    expect(vitals.workers).toEqual({ busy: 3, total: 4, utilization: 0.75 });
  });

  it('times journal writes, live deliveries and subscribers, and counts events by type', async () => {
    const clock = new ManualClock();
    const metrics = new DaemonMetrics(clock);
    metrics.written([event('task.completed', clock.now()), event('task.completed', clock.now())], 4);
    metrics.written([event('run.completed', clock.now())], 40);
    metrics.subscribed(1);
    metrics.subscribed(1);
    metrics.subscribed(-1);
    // A batch counts once, for its oldest event.
    metrics.delivered(new Date(clock.now() - 30).toISOString(), clock.now() - 3);
    const text = await metrics.text();
    expect(sample(text, 'orc_events_total{type="task.completed"}')).toBe(2);
    expect(sample(text, 'orc_journal_write_seconds_count')).toBe(2);
    expect(sample(text, 'orc_event_subscribers')).toBe(1);
    const vitals = await metrics.vitals();
    expect(vitals.subscribers).toBe(1);
    expect(vitals.journalWrite.meanMs).toBe(22);
    expect(vitals.eventDelivery).toMatchObject({ count: 1, meanMs: 30 });
    // Estimated from the buckets: the 30 ms delivery lies in (25 ms, 50 ms].
    expect(vitals.eventDelivery.p99Ms).toBeGreaterThan(25);
    expect(vitals.eventDelivery.p99Ms).toBeLessThanOrEqual(50);
    // The fan-out counts from the commit: 3 ms lies in (2.5 ms, 5 ms].
    expect(vitals.eventFanOut.count).toBe(1);
    expect(vitals.eventFanOut.p99Ms).toBeGreaterThan(2.5);
    expect(vitals.eventFanOut.p99Ms).toBeLessThanOrEqual(5);
    // Fed before the first read (prom-client loads then) and after it alike.
    metrics.written([event('task.completed', clock.now())], 1);
    metrics.subscribed(-1);
    const later = await metrics.text();
    expect(sample(later, 'orc_journal_write_seconds_count')).toBe(3);
    expect(sample(later, 'orc_events_total{type="task.completed"}')).toBe(3);
    expect(sample(later, 'orc_event_subscribers')).toBe(0);
  });

  it('keeps each engine in a registry of its own', async () => {
    const clock = new ManualClock();
    const a = new DaemonMetrics(clock, { processMetrics: true });
    const b = new DaemonMetrics(clock, { processMetrics: true });
    a.written([event('task.completed', 0)], 1);
    expect(sample(await a.text(), 'orc_events_total{type="task.completed"}')).toBe(1);
    expect(sample(await b.text(), 'orc_events_total{type="task.completed"}')).toBeUndefined();
    expect(await b.text()).toContain('process_cpu_seconds_total');
    expect(await new DaemonMetrics(clock).text()).not.toContain('process_cpu_seconds_total');
  });
});
