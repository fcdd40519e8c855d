/**
 * When a run's recent group commits were made durable, by their events' ids: what a subscriber behind
 * memory (RecentBatches) and reading the file is late by. Two numbers a commit, so it reaches much
 * further back than the batches kept: 65,536 commits are minutes of a run at full speed (a 100k run
 * commits 100 to 200 times a second) in about 1 MB.
 */
const LIMIT = 65_536;

export class CommitTimes {
  /** The first event id of the oldest commit kept (none before it is known). */
  private floor = Infinity;
  private lastIds: number[] = [];
  private times: number[] = [];

  /** The events `firstId` to `lastId` (after those added before) were made durable at `at`. */
  add(firstId: number, lastId: number, at: number): void {
    if (this.lastIds.length === 0) this.floor = firstId;
    this.lastIds.push(lastId);
    this.times.push(at);
    // Trimmed in bulk: a commit costs O(1) on average.
    if (this.lastIds.length > LIMIT * 2) {
      const cut = this.lastIds.length - LIMIT;
      this.floor = this.lastIds[cut - 1]! + 1;
      this.lastIds = this.lastIds.slice(cut);
      this.times = this.times.slice(cut);
    }
  }

  /** The commit that held event `id`: its last event and when it was made durable; undefined if not known. */
  of(id: number): { lastId: number; at: number } | undefined {
    const ids = this.lastIds;
    if (id < this.floor || ids.length === 0 || id > ids[ids.length - 1]!) return undefined;
    // The first commit whose last event is `id` or after it.
    let lo = 0;
    let hi = ids.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid]! >= id) hi = mid;
      else lo = mid + 1;
    }
    return { lastId: ids[lo]!, at: this.times[lo]! };
  }

  clear(): void {
    this.floor = Infinity;
    this.lastIds = [];
    this.times = [];
  }
}
