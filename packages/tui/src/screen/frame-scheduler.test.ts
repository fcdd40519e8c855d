import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameScheduler } from './frame-scheduler.js';

describe('FrameScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws requests at most one frame an interval, and what a person asked for at once', async () => {
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
    // Keys: drawn once the code that read them returns, before any timer or I/O, and once for both.
    frames.request(true);
    frames.request(true);
    expect(drawn.length).toBe(1);
    await Promise.resolve();
    expect(drawn).toEqual([start, start + 10]);
    // No frame is left waiting after it: the slot's frame was dropped.
    vi.advanceTimersByTime(200);
    expect(drawn.length).toBe(2);
    // Events after it are drawn at their slot (here at once: the last frame is long past).
    frames.request();
    vi.advanceTimersByTime(0);
    expect(drawn.length).toBe(3);
    frames.request();
    frames.request(true);
    frames.stop();
    await Promise.resolve();
    vi.advanceTimersByTime(100);
    expect(drawn.length).toBe(3);
  });
});
