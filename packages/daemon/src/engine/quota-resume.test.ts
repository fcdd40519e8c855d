import type { OrcEvent, PauseReason, RunStatus, RunSummary } from '@orc/shared';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/engine-fixtures.js';
import { resumeAfterQuota, type ResumableRun } from './quota-resume.js';

const T0 = 1_800_000_000_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** A run as the timed resume sees it: a status, a pause and its events. */
class FakeRun implements ResumableRun {
  readonly id = 'r1';
  status: RunStatus = 'executing';
  pauseReason: PauseReason | undefined;
  resumeAt: string | undefined;
  resumes = 0;
  private readonly listeners = new Set<(event: OrcEvent) => void>();
  private nextId = 1;

  summary(): RunSummary {
    return {
      status: this.status,
      ...(this.pauseReason !== undefined && { pauseReason: this.pauseReason }),
      ...(this.resumeAt !== undefined && { resumeAt: this.resumeAt }),
    } as RunSummary;
  }

  resume(): void {
    this.resumes++;
    this.status = 'executing';
    this.pauseReason = this.resumeAt = undefined;
    this.publish({ type: 'run.resumed' });
  }

  pause(reason: PauseReason, resumeAt?: number): void {
    this.status = 'paused';
    this.pauseReason = reason;
    this.resumeAt = resumeAt === undefined ? undefined : iso(resumeAt);
    this.publish({
      type: 'run.paused',
      reason,
      ...(this.resumeAt !== undefined && { resumeAt: this.resumeAt }),
    });
  }

  onEvent(listener: (event: OrcEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private publish(event: { type: string } & Record<string, unknown>): void {
    const full = { ...event, id: this.nextId++, runId: this.id, at: iso(T0) } as OrcEvent;
    for (const listener of this.listeners) listener(full);
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const logger = pino({ level: 'silent' });

describe('resumeAfterQuota', () => {
  it('resumes a run paused for a usage limit at the reset time, not before', async () => {
    const clock = new ManualClock(T0);
    const run = new FakeRun();
    const timer = resumeAfterQuota(run, clock, logger);
    run.pause('quota', T0 + 60_000);
    clock.advance(59_999);
    await settle();
    expect(run.resumes).toBe(0);
    clock.advance(1);
    await settle();
    expect(run.resumes).toBe(1);
    expect(run.status).toBe('executing');
    timer.stop();
  });

  it('waits for what is left of the recorded time when a restored run is still paused', async () => {
    const clock = new ManualClock(T0 + 45_000);
    const run = new FakeRun();
    run.pause('quota', T0 + 60_000);
    const timer = resumeAfterQuota(run, clock, logger);
    expect(clock.sleeps).toEqual([15_000]);
    clock.advance(15_000);
    await settle();
    expect(run.resumes).toBe(1);
    timer.stop();
  });

  it('does nothing for other pauses, after a person resumed, or once stopped', async () => {
    const clock = new ManualClock(T0);
    const run = new FakeRun();
    const timer = resumeAfterQuota(run, clock, logger);
    run.pause('budget');
    run.status = 'executing';
    run.pause('quota');
    expect(clock.sleeps).toEqual([]);

    run.resume();
    run.pause('quota', T0 + 1_000);
    run.resume();
    clock.advance(2_000);
    await settle();
    expect(run.resumes).toBe(2);

    run.pause('quota', T0 + 3_000);
    timer.stop();
    clock.advance(5_000);
    await settle();
    expect(run.resumes).toBe(2);
    expect(run.status).toBe('paused');
  });
});
