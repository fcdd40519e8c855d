import type { EventBatchText } from './event-batch-text.js';

/**
 * The latest published batches of a run's journal, oldest first, shared by every subscriber: one that
 * reads behind the run (it joined late, or its connection was slow for a moment) catches up from here,
 * with the same batches the others got (their text made once for all of them), not from the file.
 * About `limit` events are kept (see RunJournal's RECENT_LIMIT and FOLLOWED_LIMIT); a subscriber
 * further behind reads the file.
 */
export class RecentBatches {
  private batches: EventBatchText[] = [];
  private events = 0;

  /** A group commit's batches (ids consecutive with those kept), published; about `limit` events kept. */
  add(commit: readonly EventBatchText[], limit: number): void {
    for (const batch of commit) {
      this.batches.push(batch);
      this.events += batch.count;
    }
    if (this.events <= limit * 2) return;
    // Trimmed in bulk, so a commit costs O(its batches) on average; the commit just added stays whole,
    // however large (its subscribers take it on this turn).
    let drop = 0;
    while (this.events > limit && drop < this.batches.length - commit.length) {
      this.events -= this.batches[drop]!.count;
      drop++;
    }
    this.batches = this.batches.slice(drop);
  }

  /**
   * The batches holding the events after `afterId`, oldest first (the first may start before it: cut it
   * with `after`); undefined when events after `afterId` are no longer kept (or were never: none
   * published since this process started), and the file must be read.
   */
  after(afterId: number, lastPublished: number): readonly EventBatchText[] | undefined {
    if (afterId >= lastPublished) return [];
    const first = this.batches[0];
    if (first === undefined || first.firstId > afterId + 1) return undefined;
    // The first batch whose last event is after `afterId`.
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid]!.lastId > afterId) hi = mid;
      else lo = mid + 1;
    }
    return this.batches.slice(lo);
  }

  clear(): void {
    this.batches = [];
    this.events = 0;
  }
}
