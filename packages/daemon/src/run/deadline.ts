import { after, type Clock } from '../clock.js';

/**
 * An abort signal that fires when the caller's signal aborts or `ms` pass on the clock, whichever is
 * first. Node 20's `AbortSignal.any` keeps every combined signal alive until the parent is collected,
 * which leaks on a run making thousands of calls; this one is undone by `clear()`.
 */
export class Deadline {
  private readonly controller = new AbortController();
  /** Ends the wait on the clock when the call is over first. */
  private readonly cancelTimer: () => void;
  private readonly onAbort: () => void;
  timedOut = false;

  constructor(
    clock: Clock,
    private readonly parent: AbortSignal,
    ms: number,
  ) {
    this.onAbort = () => this.controller.abort(parent.reason);
    // An abort fires once, and clear() takes the listener off: no `{ once: true }` to parse per call.
    if (parent.aborted) this.controller.abort(parent.reason);
    else parent.addEventListener('abort', this.onAbort);
    this.cancelTimer = after(clock, ms, () => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${ms} ms`));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clear(): void {
    this.cancelTimer();
    this.parent.removeEventListener('abort', this.onAbort);
  }
}
