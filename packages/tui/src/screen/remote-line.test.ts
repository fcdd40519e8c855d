import { describe, expect, it } from 'vitest';
import { remoteLine } from './remote-line.js';

const worker = (id: string, host: string, running: number) => ({
  id,
  host,
  pid: 1,
  concurrency: 4,
  startedAt: 0,
  seenAt: 0,
  running: Array.from({ length: running }, (_, i) => ({
    runId: 'r1',
    taskId: `t${i}`,
    attempt: 1,
    since: 0,
  })),
});
const base = { url: 'redis://q:6379', queue: 'orc-1', reachable: true };

describe('remoteLine', () => {
  it('counts the workers, their hosts and how busy they are', () => {
    expect(
      remoteLine({ ...base, workers: [worker('a-1', 'a', 3), worker('a-2', 'a', 1), worker('b-1', 'b', 0)] }),
    ).toBe('remote workers 3 on 2 hosts, 4/12 busy, via redis://q:6379');
  });

  it('says when none is connected and when Redis cannot be reached', () => {
    expect(remoteLine({ ...base, workers: [] })).toContain('none connected');
    expect(remoteLine({ ...base, reachable: false, workers: [] })).toContain(
      'cannot be reached; runs wait for it',
    );
  });
});
