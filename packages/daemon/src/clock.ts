/** Time comes in through this seam so tests can run retries and timeouts without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` after `ms` unless the function returned is called first. Optional: `after()` falls back
   * to `sleep` with an AbortController for a clock without it.
   */
  after?(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  after: (ms, fn) => {
    // A timer alone keeps no process alive: what it times out is held by something else.
    const timer = setTimeout(fn, ms).unref();
    return () => clearTimeout(timer);
  },
};

/**
 * The reason to abort a wait on the clock with once it is no longer wanted. `abort()` without a reason
 * builds a DOMException and captures its stack each time: 0.8 s of the daemon's CPU over a 10,000-task
 * run (two waits an attempt; CPU profile of `npm run bench -- --only overhead`).
 */
export const WAIT_CALLED_OFF: Error = new Error('the wait on the clock was called off');

/**
 * A wait on the hot path (each call's deadline, each attempt's output batch): `fn` after `ms`, unless
 * the function returned is called first. On the system clock a plain timer: a sleep with an
 * AbortController to call it off cost ~15 µs a wait in promise, listener and abort event, ~0.3 s of
 * the daemon's CPU over a 10,000-task run (three waits a task; CPU profile of the overhead case).
 */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  if (clock.after) return clock.after(ms, fn);
  const stop = new AbortController();
  clock.sleep(ms, stop.signal).then(fn, () => {}); // called off
  return () => stop.abort(WAIT_CALLED_OFF);
}

let lastMs = Number.NaN;
let lastIso = '';

/**
 * The clock's time as an ISO string. A busy run stamps thousands of events and records a second, most
 * of them within the same millisecond: the last string is reused rather than formatted again.
 */
export function isoAt(clock: Clock): string {
  const ms = clock.now();
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
