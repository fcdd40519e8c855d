import { describe, expect, it } from 'vitest';
import { workerLines } from './worker-lines.js';

const base = { url: 'redis://10.0.0.5:6379', queue: 'orc-82b5f777', reachable: true };
const worker = (id: string, running: number) => ({
  id,
  host: 'h',
  pid: 1,
  concurrency: 4,
  startedAt: 0,
  seenAt: 0,
  running: Array.from({ length: running }, (_, i) => ({
    runId: 'r1',
    taskId: `t${i + 1}`,
    attempt: 1,
    since: 0,
  })),
});

describe('workerLines', () => {
  it('shows each worker, its load and what it runs', () => {
    expect(workerLines({ ...base, workers: [worker('build-1-40', 2), worker('b2-7', 0)] })).toEqual([
      'workers on redis://10.0.0.5:6379 (queue orc-82b5f777): 2',
      '  build-1-40    2/4  r1 t1#1, r1 t2#1',
      '  b2-7          0/4  idle',
    ]);
  });

  it('says how to start one when none is connected, and when Redis cannot be reached', () => {
    expect(workerLines({ ...base, workers: [] })).toEqual([
      'workers: none on redis://10.0.0.5:6379 (queue orc-82b5f777); start one with orc worker --redis redis://10.0.0.5:6379',
    ]);
    expect(workerLines({ ...base, reachable: false, workers: [] })[0]).toContain(
      'cannot be reached; runs wait',
    );
  });
});
