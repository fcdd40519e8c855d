import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameScheduler } from './frame-scheduler.js';

describe('FrameScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws requests at most one frame an interval, and what a person asked for on the next turn', () => {
    const drawn: number[] = [];
    const frames = new FrameScheduler(() => drawn.push(Date.now()), 50, Date.now);
    const start = Date.now();
    frames.request();
    vi.advanceTimersByTime(0);
    expect(drawn).toEqual([start]);
    // Events keep coming: one frame for all of them, a slot later.
    frames.request();
    frames.request();
    vi.advanceTimersByTime(10);
    expect(drawn.length).toBe(1);
    // A key: drawn now, not at the slot.
    frames.request(true);
    vi.advanceTimersByTime(0);
    expect(drawn).toEqual([start, start + 10]);
    // No frame is left waiting after it.
    vi.advanceTimersByTime(200);
    expect(drawn.length).toBe(2);
    frames.stop();
    frames.request(true);
    vi.advanceTimersByTime(100);
    expect(drawn.length).toBe(2);
  });
});
