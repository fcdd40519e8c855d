import type { RunReport } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { reportPage } from './report-page.js';

const usage = { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 0, cacheWriteTokens: 0 };
const spend = { usage, costUsd: 0.5 };
const HOSTILE = '<script>alert(1)</script> & "quotes" \'single\'';

function report(): RunReport {
  return {
    runId: 'r1',
    goal: HOSTILE,
    status: 'completed',
    models: {
      manager: { provider: 'anthropic', model: 'opus' },
      worker: { provider: 'anthropic', model: 'sonnet' },
      simulated: false,
    },
    maxWorkers: 2,
    createdAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    at: '2026-01-01T00:11:00.000Z',
    taskCounts: { done: 2 },
    taskTotal: 2,
    reviews: { accept: 2, rework: 1, fail: 0 },
    reworkRate: 0.5,
    failureRate: 0,
    reworkReasons: [{ reason: HOSTILE, count: 1, tasks: ['a<b'] }],
    failureReasons: [],
    spend: {
      total: spend,
      manager: spend,
      workers: spend,
      byModel: [{ model: 'opus', roles: ['manager'], ...spend }],
    },
    time: { makespanMs: 600_000, criticalPathMs: 500_000, criticalPath: ['a<b', 'c'], utilisation: 0.4 },
    tasks: [
      {
        id: 'a<b',
        title: HOSTILE,
        status: 'done',
        attempts: 2,
        reworks: 1,
        spend,
        workMs: 200_000,
        elapsedMs: 250_000,
        onCriticalPath: true,
        ratings: [],
      },
      {
        id: 'c',
        title: 'C',
        status: 'done',
        attempts: 1,
        reworks: 0,
        spend,
        workMs: 100_000,
        elapsedMs: 250_000,
        onCriticalPath: true,
        lines: { added: 10, removed: 2 },
        ratings: [],
      },
    ],
    timeline: [
      {
        taskId: 'a<b',
        n: 1,
        worker: 0,
        startedAt: '2026-01-01T00:00:10.000Z',
        endedAt: '2026-01-01T00:02:00.000Z',
        outcome: 'succeeded',
        verdict: 'rework',
      },
      {
        taskId: 'a<b',
        n: 2,
        worker: 1,
        startedAt: '2026-01-01T00:02:30.000Z',
        endedAt: '2026-01-01T00:04:00.000Z',
        outcome: 'succeeded',
        verdict: 'accept',
      },
      { taskId: 'c', n: 1, worker: 0, startedAt: '2026-01-01T00:04:10.000Z', outcome: 'running' },
    ],
    feedback: [{ at: '2026-01-01T00:02:00.000Z', kind: 'rework', taskId: 'a<b', attempt: 1, text: HOSTILE }],
    ratings: { count: 0 },
  };
}

describe('reportPage', () => {
  it('escapes whatever people and models wrote, and loads nothing from elsewhere', () => {
    const page = reportPage(report());
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;');
    expect(page).toContain('data-task="a&lt;b"');
    expect(page).not.toMatch(/<link|src=|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('draws an attempt per bar, outlines the critical path, and ends a running attempt at the run end', () => {
    const page = reportPage(report());
    expect(page.match(/<g class="attempt/g)).toHaveLength(3);
    expect(page.match(/<g class="attempt critical"/g)).toHaveLength(3);
    expect(page).toContain('critical path: a&lt;b → c');
    // The 10-minute run fills the plot; c started at 4:10 and ran to the end: 58% of it.
    const width = /data-task="c"><title>[^<]*<\/title><rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(
      page,
    );
    expect(width).not.toBeNull();
    const plot = 960 - 80 - 12;
    expect(Number(width![2]) / plot).toBeCloseTo(350 / 600, 2);
    expect(page).toContain('+10/−2');
  });

  it('keeps every axis label inside the picture: the last one ends at its tick', () => {
    const ticks = [
      ...reportPage(report()).matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)" class="tick">/g),
    ];
    expect(ticks.length).toBeGreaterThan(2);
    expect(ticks.slice(0, -1).every((tick) => tick[2] === 'middle')).toBe(true);
    expect(ticks.at(-1)![2]).toBe('end');
    expect(Number(ticks.at(-1)![1])).toBeLessThanOrEqual(960);
  });
});
