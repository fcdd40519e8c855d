import type { OrcEvent } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressView } from './progress-view.js';

let id = 0;
const event = (body: Record<string, unknown>) =>
  ({ id: ++id, runId: 'r1', at: new Date().toISOString(), ...body }) as OrcEvent;
const planned = (...ids: string[]) =>
  event({
    type: 'run.planned',
    tasks: ids.map((taskId) => ({ id: taskId, title: `Task ${taskId}`, dependencies: [] })),
  });
const status = (taskId: string, to: string) => event({ type: 'task.status', taskId, status: to });

describe('ProgressView where the output is not a terminal', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('prints a line per event, and every interval a line of where the run stands', () => {
    const lines: string[] = [];
    const view = new ProgressView(false, (text) => lines.push(text), 10_000);
    view.onEvent(planned('1', '2', '3', '4'));
    view.onEvent(status('1', 'running'));
    view.onEvent(status('1', 'done'));
    view.onEvent(status('2', 'failed'));
    view.onEvent(status('3', 'reviewing'));
    view.onEvent(event({ type: 'plan.tasks_removed', taskIds: ['4'] }));
    expect(lines.filter((line) => line.startsWith('progress:'))).toEqual([]);
    expect(lines).toHaveLength(6);

    vi.advanceTimersByTime(10_000);
    expect(lines.at(-1)).toBe('progress: 2/3 settled (1 done, 1 failed), 0 running, 1 in review, 10s in\n');
    view.onEvent(status('3', 'done'));
    view.onEvent(event({ type: 'run.status', status: 'reviewing' }));
    vi.advanceTimersByTime(65_000);
    expect(lines.filter((line) => line.startsWith('progress:')).at(-1)).toBe(
      'progress: 3/3 settled (2 done, 1 failed), 0 running, final review, 1m10s in\n',
    );

    // Once the run is over, no more.
    const count = lines.length;
    view.end();
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(count);
  });

  it('prints no progress line before the run has tasks, and says when the run is planning', () => {
    const lines: string[] = [];
    const view = new ProgressView(false, (text) => lines.push(text), 1000);
    vi.advanceTimersByTime(5000);
    expect(lines).toEqual([]);
    view.onEvent(event({ type: 'run.planning', attempt: 1 }));
    vi.advanceTimersByTime(1000);
    expect(lines.at(-1)).toBe('progress: planning, 6s in\n');
    view.end();
  });
});

describe('ProgressView on a terminal', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('redraws its bar at most every 50 ms however many events come, and once more at the end', () => {
    const written: string[] = [];
    const view = new ProgressView(true, (text) => written.push(text));
    const ids = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    view.onEvent(planned(...ids));
    for (const taskId of ids) view.onEvent(status(taskId, 'running'));
    const bars = () => written.filter((text) => text.startsWith('\r\x1b[K[')).length;
    expect(bars()).toBe(0);
    vi.advanceTimersByTime(50);
    expect(bars()).toBe(1);
    expect(written.at(-1)).toContain('0/1000 · 1000 running');
    for (const taskId of ids.slice(0, 400)) view.onEvent(status(taskId, 'done'));
    view.end();
    expect(bars()).toBe(2);
    expect(written.at(-2)).toContain(`[${'#'.repeat(10)}${'-'.repeat(14)}] 400/1000 · 600 running`);
    expect(written.at(-1)).toBe('\n');
  });
});
