/**
 * Work on a run's integration branch, one piece at a time, in the order it was asked for: accepted
 * tasks' merges, and reads of the integration head that must see every merge asked for before them (a
 * checkpoint records the commit that matches its state).
 */
export class MergeQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Whether a merge is queued or under way. */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** Runs `work` after everything queued before it; its failure is the caller's, not the queue's. */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.queued += 1;
    const result = this.tail.then(work);
    this.tail = result.then(
      () => this.queued--,
      () => this.queued--,
    );
    return result;
  }

  /** Resolves once everything queued so far is done. */
  async idle(): Promise<void> {
    while (this.queued > 0) await this.tail;
  }
}
