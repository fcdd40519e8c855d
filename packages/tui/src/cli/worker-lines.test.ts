import { describe, expect, it } from 'vitest';
import { unplacedLine, workerLines } from './worker-lines.js';

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

  it('shows the quotas the workers share: per key and model, what is left and what went', () => {
    const lines = workerLines({
      ...base,
      workers: [worker('b2-7', 1)],
      quotas: [
        {
          key: 'anthropic https://api 3fa9c0e1d2b4a5f6 claude-sonnet-5-5',
          model: 'claude-sonnet-5-5',
          limits: [
            { dimension: 'requests', limit: 50, fillMs: 60_000, remaining: 12 },
            { dimension: 'output-tokens', limit: 8_000, fillMs: 60_000, remaining: 7_812.6 },
          ],
          inFlight: 1,
          waiting: 2,
          admitted: 240,
          rateLimited: 0,
          shared: true,
        },
      ],
    });
    expect(lines.slice(2)).toEqual([
      'quotas the workers share:',
      '  claude-sonnet-5-5 (key 3fa9c0e1d2b4a5f6): 12 of 50 requests, 7,812 of 8,000 output tokens left, 1 in flight, 2 waiting, 240 sent, 0 refused (429)',
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

  it('names the running tasks no live worker runs: queued, or their worker died and the queue hands them on', () => {
    const remote = { ...base, workers: [worker('b2-7', 2)] };
    // b2-7 runs r1's t1 and t2; t3 is on nobody, and another run's t3 changes nothing.
    remote.workers[0]!.running.push({ runId: 'r2', taskId: 't3', attempt: 1, since: 0 });
    expect(unplacedLine('r1', ['t1', 't2'], remote)).toEqual([]);
    expect(unplacedLine('r1', ['t1', 't3'], remote)).toEqual([
      'not on a worker: t3 (queued, or their worker stopped answering: the queue hands them on once redis.stall_seconds pass)',
    ]);
    const many = Array.from({ length: 11 }, (_, i) => `u${i}`);
    expect(unplacedLine('r1', many, remote)[0]).toMatch(/^not on a worker: u0, u1, .*, u7 and 3 more \(/);
  });
});
