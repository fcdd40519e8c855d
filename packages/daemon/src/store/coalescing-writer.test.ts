import { describe, expect, it } from 'vitest';
import { ManualClock } from '@orc/test-support';
import { CoalescingWriter } from './coalescing-writer.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Lets every promise that can settle now settle (no time passes on a manual clock meanwhile). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('CoalescingWriter', () => {
  it('collapses requests made during a slow write into one next write that takes the latest state', async () => {
    const writer = new CoalescingWriter({ minIntervalMs: 0 });
    const gate = deferred();
    let state = 0;
    const written: number[] = [];
    const save = () => {
      writer.schedule('run', async () => {
        const snapshot = state; // taken when the write starts
        if (written.length === 0) await gate.promise;
        written.push(snapshot);
      });
    };

    state = 1;
    save();
    for (let i = 2; i <= 50; i++) {
      state = i;
      save();
    }
    await tick();
    gate.resolve();
    await writer.flush();
    expect(written).toEqual([1, 50]);
  });

  it('keeps one write in flight per key, and keys apart', async () => {
    const writer = new CoalescingWriter({ minIntervalMs: 0 });
    const gate = deferred();
    let inFlight = 0;
    let most = 0;
    const log: string[] = [];
    const write = (key: string) => async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      if (key === 'a') await gate.promise;
      log.push(key);
      inFlight--;
    };
    writer.schedule('a', write('a'));
    writer.schedule('b', write('b'));
    await tick();
    expect(log).toEqual(['b']); // b did not wait for a
    writer.schedule('a', write('a'));
    gate.resolve();
    await writer.flush();
    expect(log).toEqual(['b', 'a', 'a']);
    expect(most).toBe(2);
  });

  it('spaces writes of a key by the minimum interval, or by k times the last write', async () => {
    const clock = new ManualClock(0);
    const starts: number[] = [];
    const writer = new CoalescingWriter({ minIntervalMs: 60, durationFactor: 3, clock });
    // A write that takes 40 ms of the clock's time.
    const slowWrite = async () => {
      starts.push(clock.now());
      await clock.sleep(40);
    };
    writer.schedule('doc', slowWrite);
    writer.schedule('doc', slowWrite);
    await settled();
    expect(starts).toEqual([0]);
    clock.advance(40); // the first write ends; the next waits 3 × 40 ms = 120 ms, more than the 60 ms minimum
    await settled();
    clock.advance(119);
    await settled();
    expect(starts).toEqual([0]);
    clock.advance(1);
    await settled();
    expect(starts).toEqual([0, 160]);

    const quick: number[] = [];
    const quickClock = new ManualClock(0);
    const fast = new CoalescingWriter({ minIntervalMs: 60, durationFactor: 3, clock: quickClock });
    const quickWrite = () => {
      quick.push(quickClock.now());
      return Promise.resolve();
    };
    fast.schedule('doc', quickWrite);
    fast.schedule('doc', quickWrite);
    await settled();
    quickClock.advance(59);
    await settled();
    expect(quick).toEqual([0]);
    quickClock.advance(1);
    await settled();
    expect(quick).toEqual([0, 60]);
  });

  it('flush forces a waiting write at once, skipping the interval', async () => {
    const writer = new CoalescingWriter({ minIntervalMs: 60_000 });
    const written: number[] = [];
    writer.schedule('doc', () => Promise.resolve(void written.push(1)));
    await tick();
    writer.schedule('doc', () => Promise.resolve(void written.push(2))); // would wait a minute
    const started = Date.now();
    await writer.flush('doc');
    expect(written).toEqual([1, 2]);
    expect(Date.now() - started).toBeLessThan(1000);
    await writer.flush(); // nothing left
    await writer.flush('unknown');
  });

  it('flush does not wait for requests made after it was called', async () => {
    const writer = new CoalescingWriter({ minIntervalMs: 0 });
    let writes = 0;
    const write = async () => {
      writes++;
      await tick();
      writer.schedule('busy', write); // a run that keeps changing
    };
    writer.schedule('busy', write);
    await writer.flush('busy');
    expect(writes).toBeLessThanOrEqual(2);
  });

  it('reports a failed write to onError and through flush, then recovers', async () => {
    const errors: string[] = [];
    const writer = new CoalescingWriter({ minIntervalMs: 0, onError: (_error, key) => errors.push(key) });
    writer.schedule('doc', () => Promise.reject(new Error('disk full')));
    await expect(writer.flush()).rejects.toThrow('disk full');
    expect(errors).toEqual(['doc']);
    let ok = false;
    writer.schedule('doc', () => Promise.resolve(void (ok = true)));
    await writer.flush('doc');
    expect(ok).toBe(true);
  });
});
