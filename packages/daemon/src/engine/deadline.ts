/**
 * An abort signal that fires when the caller's signal aborts or `ms` pass, whichever is first. Node 20's
 * `AbortSignal.any` keeps every combined signal alive until the parent is collected, which leaks on a
 * run making thousands of calls; this one is undone by `clear()`.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: () => void;
  timedOut = false;

  constructor(
    private readonly parent: AbortSignal,
    ms: number,
  ) {
    this.onAbort = () => this.controller.abort(parent.reason);
    if (parent.aborted) this.controller.abort(parent.reason);
    else parent.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${ms} ms`));
    }, ms);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clear(): void {
    clearTimeout(this.timer);
    this.parent.removeEventListener('abort', this.onAbort);
  }
}
