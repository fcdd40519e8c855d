import type { OrcEvent } from '@orc/shared';

/**
 * How many events are kept. A page is asked for and answered in a few ms, during which a 100,000-task
 * run at full speed streams a few hundred events (about 15,000 a second at 3,000 tasks/s): 20,000 is more
 * than a second of them, and a page older than that is asked for again.
 */
const KEEP = 20_000;

/**
 * The events a client folded in lately, to bring a page of tasks up to date: a page answers as of its
 * own `lastEventId`, while the client's view is already past it; the events in between are folded into
 * the page's rows again before they are shown.
 */
export class RecentEvents {
  private events: OrcEvent[] = [];
  /** Every event after this id is kept (the view's last event when the client started over). */
  private keptAfter = 0;

  /** Forgets everything: the client starts over from a view as of `lastEventId`. */
  reset(lastEventId: number): void {
    this.events = [];
    this.keptAfter = lastEventId;
  }

  add(events: readonly OrcEvent[]): void {
    if (events.length > KEEP) {
      // Only its last KEEP stay (and a spread of so many would overflow the call stack).
      this.keptAfter = events[events.length - KEEP - 1]!.id;
      this.events = events.slice(-KEEP);
      return;
    }
    this.events.push(...events);
    const extra = this.events.length - KEEP;
    if (extra > 0) {
      this.keptAfter = this.events[extra - 1]!.id;
      this.events = this.events.slice(extra);
    }
  }

  /** The events after `id`, in order, or undefined when some of them are no longer kept. */
  after(id: number): OrcEvent[] | undefined {
    if (id < this.keptAfter) return undefined;
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.id <= id) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }
}
