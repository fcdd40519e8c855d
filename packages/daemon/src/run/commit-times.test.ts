import { describe, expect, it } from 'vitest';
import { CommitTimes } from './commit-times.js';

describe('CommitTimes', () => {
  it('tells the commit that held an event, and nothing for events it did not see committed', () => {
    const times = new CommitTimes();
    expect(times.of(1)).toBeUndefined();
    times.add(11, 15, 100);
    times.add(16, 16, 200);
    times.add(17, 40, 300);
    expect(times.of(10)).toBeUndefined(); // committed before this process, or never seen
    expect(times.of(11)).toEqual({ lastId: 15, at: 100 });
    expect(times.of(15)).toEqual({ lastId: 15, at: 100 });
    expect(times.of(16)).toEqual({ lastId: 16, at: 200 });
    expect(times.of(17)).toEqual({ lastId: 40, at: 300 });
    expect(times.of(41)).toBeUndefined(); // not committed yet
    times.clear();
    expect(times.of(17)).toBeUndefined();
  });

  it('forgets the oldest commits past its bound, and what they held', () => {
    const times = new CommitTimes();
    const commits = 200_000;
    for (let i = 1; i <= commits; i++) times.add(i, i, i * 10);
    expect(times.of(commits)).toEqual({ lastId: commits, at: commits * 10 });
    expect(times.of(1)).toBeUndefined();
    const oldest = Array.from({ length: commits }, (_, i) => i + 1).find((id) => times.of(id) !== undefined)!;
    expect(oldest).toBeGreaterThan(1);
    expect(times.of(oldest)).toEqual({ lastId: oldest, at: oldest * 10 });
    expect(times.of(oldest - 1)).toBeUndefined();
  });
});
