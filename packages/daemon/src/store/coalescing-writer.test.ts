import { describe, expect, it } from 'vitest';
import { CoalescingWriter } from './coalescing-writer.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

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
    const starts: number[] = [];
    const writer = new CoalescingWriter({ minIntervalMs: 60, durationFactor: 3 });
    const slowWrite = async () => {
      starts.push(Date.now());
      await new Promise((resolve) => setTimeout(resolve, 40));
    };
    writer.schedule('doc', slowWrite);
    await tick();
    writer.schedule('doc', slowWrite);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(starts).toHaveLength(2);
    // 40 ms write × 3 = 120 ms gap after it ended, more than the 60 ms minimum.
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(40 + 115);

    const quick: number[] = [];
    const fast = new CoalescingWriter({ minIntervalMs: 60, durationFactor: 3 });
    const quickWrite = () => {
      quick.push(Date.now());
      return Promise.resolve();
    };
    fast.schedule('doc', quickWrite);
    fast.schedule('doc', quickWrite);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(quick).toHaveLength(2);
    expect(quick[1]! - quick[0]!).toBeGreaterThanOrEqual(55);
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
