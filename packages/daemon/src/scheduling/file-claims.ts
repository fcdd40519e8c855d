import { firstOverlap, parseTouches, type FileWait, type ParsedTouch } from '@orc/shared';

/**
 * Which files the tasks in flight hold, and which ready tasks wait for them. A task taken to run holds
 * its touches (planned and learned) until it leaves flight (done, back to ready, failed…); a ready task
 * whose touches overlap a holder's is parked under that holder, off the ready queue, and goes back to
 * the queue when the holder lets go. So the constraint only orders tasks: a parked task always waits for
 * a task in flight, which ends by itself, and a task with no touches never waits.
 *
 * Parking rather than skipping keeps dispatch cheap: a waiting task is looked at once per holder it
 * waits for, not once per dispatch (10,000 tasks in groups of 100 sharing a glob: see the bench).
 */
export class FileClaims {
  private readonly held = new Map<string, ParsedTouch[]>();
  /** Ready tasks waiting, by the holder they wait for. */
  private readonly parkedUnder = new Map<string, string[]>();
  /** What each parked task waits for. */
  private readonly waits = new Map<string, FileWait>();

  /** How many tasks hold files now. */
  get holders(): number {
    return this.held.size;
  }

  /** How many ready tasks wait for a holder. */
  get parked(): number {
    return this.waits.size;
  }

  /** The holder and path a task would wait for if it started now, or undefined when it may start. */
  blocker(touches: readonly ParsedTouch[] | undefined): FileWait | undefined {
    if (touches === undefined || this.held.size === 0) return undefined;
    for (const [holder, theirs] of this.held) {
      const path = firstOverlap(touches, theirs);
      if (path !== undefined) return { path, holder };
    }
    return undefined;
  }

  /** The task starts: it holds its touches (nothing when it has none). */
  hold(id: string, touches: readonly ParsedTouch[] | undefined): void {
    if (touches !== undefined && touches.length > 0) this.held.set(id, [...touches]);
  }

  /** A holder learned what its change touched: later arrivals are checked against that too. */
  learned(id: string, files: readonly string[]): void {
    const held = this.held.get(id);
    if (held) this.held.set(id, [...held, ...parseTouches(files)]);
  }

  /** The ready task waits for `wait.holder`. */
  park(id: string, wait: FileWait): void {
    this.waits.set(id, wait);
    const list = this.parkedUnder.get(wait.holder);
    if (list) list.push(id);
    else this.parkedUnder.set(wait.holder, [id]);
  }

  /** What a parked task waits for. */
  waitOf(id: string): FileWait | undefined {
    return this.waits.get(id);
  }

  /** A parked task left ready (cancelled, skipped…): it waits for nothing now. */
  unpark(id: string): void {
    this.waits.delete(id);
  }

  /** The task left flight: it holds nothing; returns the tasks that waited for it, to queue again. */
  release(id: string): string[] {
    this.held.delete(id);
    const parked = this.parkedUnder.get(id);
    if (!parked) return [];
    this.parkedUnder.delete(id);
    const freed: string[] = [];
    for (const waiting of parked) {
      // Parked again under another holder since, or left ready: not this holder's to free.
      if (this.waits.get(waiting)?.holder !== id) continue;
      this.waits.delete(waiting);
      freed.push(waiting);
    }
    return freed;
  }

  clear(): void {
    this.held.clear();
    this.parkedUnder.clear();
    this.waits.clear();
  }
}
