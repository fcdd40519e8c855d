import { describe, expect, it } from 'vitest';
import { seededRandom } from '@orc/test-support';
import { AdaptiveLimit, SlotPool } from './concurrency.js';

describe('AdaptiveLimit', () => {
  it('halves on a rate limit down to 1 and climbs back one step per success to the maximum', () => {
    const limit = new AdaptiveLimit(8);
    expect(limit.value).toBe(8);
    expect(limit.onRateLimited()).toBe(true);
    expect(limit.value).toBe(4);
    limit.onRateLimited();
    limit.onRateLimited();
    expect(limit.value).toBe(1);
    expect(limit.onRateLimited()).toBe(false);
    expect(limit.value).toBe(1);
    const steps: number[] = [];
    for (let i = 0; i < 10; i++) {
      limit.onSuccess();
      steps.push(limit.value);
    }
    expect(steps).toEqual([2, 3, 4, 5, 6, 7, 8, 8, 8, 8]);
    expect(limit.onSuccess()).toBe(false);
  });

  it('rounds a halved odd limit up and resets to the maximum', () => {
    const limit = new AdaptiveLimit(3);
    limit.onRateLimited();
    expect(limit.value).toBe(2);
    limit.reset();
    expect(limit.value).toBe(3);
  });
});

describe('SlotPool', () => {
  it('never holds more slots than its capacity under random load', async () => {
    const pool = new SlotPool(3);
    const random = seededRandom(11);
    let held = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const release = await pool.acquire();
        held += 1;
        most = Math.max(most, held);
        expect(pool.used).toBeLessThanOrEqual(3);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 4)));
        held -= 1;
        release();
      }),
    );
    expect(most).toBe(3);
    expect(pool.peak).toBe(3);
    expect(pool.used).toBe(0);
  });

  it('serves waiters first come, first served, and a released slot cannot be taken by a newcomer', async () => {
    const pool = new SlotPool(1);
    const first = await pool.acquire();
    const order: string[] = [];
    const waiters = ['w1', 'w2', 'w3'].map((name) =>
      pool.acquire().then((release) => {
        order.push(name);
        return release;
      }),
    );
    first();
    // A newcomer arriving after the release queues behind the waiters.
    const late = pool.acquire().then((release) => {
      order.push('late');
      return release;
    });
    for (const waiter of waiters) (await waiter)();
    (await late)();
    expect(order).toEqual(['w1', 'w2', 'w3', 'late']);
    expect(pool.used).toBe(0);
  });

  it('rejects a waiter whose signal aborts, without losing its place to a slot leak', async () => {
    const pool = new SlotPool(1);
    const holder = await pool.acquire();
    const controller = new AbortController();
    const aborted = pool.acquire(controller.signal);
    const next = pool.acquire();
    controller.abort(new Error('run cancelled'));
    await expect(aborted).rejects.toThrow('run cancelled');
    holder();
    const release = await next;
    expect(pool.used).toBe(1);
    release();
    release(); // releasing twice frees one slot only
    expect(pool.used).toBe(0);
    await expect(pool.acquire(AbortSignal.abort(new Error('already gone')))).rejects.toThrow('already gone');
    expect(pool.used).toBe(0);
  });
});
