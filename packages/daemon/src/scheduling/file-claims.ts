import { parseTouches, patternsOverlap, type FileWait, type ParsedTouch } from '@orc/shared';
import { ReadyQueue, before, type QueuedTask } from './ready-queue.js';

/**
 * Ready tasks waiting for one holder on one of their patterns: every task in it touches `pattern`, which
 * overlaps what its holder touches. A holder that lets go wakes its groups; a woken group whose pattern
 * another holder overlaps moves under that one whole, without looking at its tasks one by one.
 */
/** A group this small goes back to the ready queue task by task when its holder lets go. */
const SMALL_GROUP = 8;

interface WaitGroup {
  pattern: ParsedTouch;
  /** Undefined once woken: its tasks may start. */
  holder: string | undefined;
  tasks: ReadyQueue;
}

/**
 * Which files the tasks in flight hold, and which ready tasks wait for them. A task taken to run holds
 * its touches (planned and learned) until it leaves flight (done, back to ready, failed…); a ready task
 * whose touches overlap a holder's waits for that holder, off the ready queue, in a group of the tasks
 * waiting on the same pattern. So the constraint only orders tasks: a waiting task always waits for a
 * task in flight, which ends by itself, and a task with no touches never waits.
 *
 * Groups keep a crowd cheap. 10,000 ready tasks in five areas (`src/area<k>/**`), 16 workers: requeuing
 * every waiting task when its holder let go, to be looked at and parked again under the next holder, took
 * 203 s of scheduling; moving a woken group under the next holder whole takes 0.9 s (the same run with no
 * touches: 0.3 s; the task graph alone, load 14 on 2 cores).
 */
export class FileClaims {
  private readonly held = new Map<string, ParsedTouch[]>();
  /** Each holder's groups, by the pattern their tasks wait on. */
  private readonly groupsUnder = new Map<string, Map<string, WaitGroup>>();
  /** Groups whose holder let go, their tasks back in contention with the ready queue. */
  private readonly woken: WaitGroup[] = [];
  private readonly groupOf = new Map<string, WaitGroup>();

  /** Ready tasks in groups whose holder let go: they may start now. */
  get wokenCount(): number {
    let n = 0;
    for (const group of this.woken) n += group.tasks.size;
    return n;
  }

  /** Ready tasks waiting for a holder now. */
  get waitingCount(): number {
    return this.groupOf.size - this.wokenCount;
  }

  /** The holder and path a task would wait for if it started now, or undefined when it may start. */
  blocker(touches: readonly ParsedTouch[] | undefined): (FileWait & { pattern: ParsedTouch }) | undefined {
    if (touches === undefined || this.held.size === 0) return undefined;
    for (const pattern of touches) {
      const holder = this.holderOf(pattern);
      if (holder !== undefined) return { path: pattern.text, holder, pattern };
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

  /** The ready task waits for `wait.holder`, in the group of those waiting there on the same pattern. */
  park(task: QueuedTask, wait: { holder: string; pattern: ParsedTouch }): void {
    const groups = this.groupsUnder.get(wait.holder) ?? new Map<string, WaitGroup>();
    this.groupsUnder.set(wait.holder, groups);
    let group = groups.get(wait.pattern.text);
    if (!group) {
      group = { pattern: wait.pattern, holder: wait.holder, tasks: new ReadyQueue() };
      groups.set(wait.pattern.text, group);
    }
    group.tasks.push(task);
    this.groupOf.set(task.id, group);
  }

  /** What a waiting task waits for. */
  waitOf(id: string): FileWait | undefined {
    const group = this.groupOf.get(id);
    return group?.holder === undefined ? undefined : { path: group.pattern.text, holder: group.holder };
  }

  /** A waiting task left ready (cancelled, skipped, queued afresh…): it waits for nothing now. */
  unpark(id: string): void {
    const group = this.groupOf.get(id);
    if (!group) return;
    group.tasks.delete(id);
    this.groupOf.delete(id);
  }

  /**
   * The task left flight: it holds nothing, and the groups waiting for it wake. A small group's tasks
   * are returned instead, for the ready queue: woken groups are looked through on every take, so only
   * those worth it stay groups.
   */
  release(id: string): QueuedTask[] {
    this.held.delete(id);
    const groups = this.groupsUnder.get(id);
    if (!groups) return [];
    this.groupsUnder.delete(id);
    const requeue: QueuedTask[] = [];
    for (const group of groups.values()) {
      group.holder = undefined;
      if (group.tasks.size > SMALL_GROUP) {
        this.woken.push(group);
        continue;
      }
      for (let task = group.tasks.pop(); task !== undefined; task = group.tasks.pop()) {
        this.groupOf.delete(task.id);
        requeue.push(task);
      }
    }
    return requeue;
  }

  /**
   * The best woken task that goes before `than`, taken out of its group; a woken group whose pattern a
   * holder overlaps again goes back to waiting, whole, under that holder first.
   */
  takeWoken(than: QueuedTask | undefined): QueuedTask | undefined {
    for (;;) {
      let best: WaitGroup | undefined;
      let top: QueuedTask | undefined;
      for (let i = this.woken.length - 1; i >= 0; i--) {
        const group = this.woken[i]!;
        const first = group.tasks.peek();
        if (first === undefined) {
          this.woken.splice(i, 1);
          continue;
        }
        if (top === undefined || before(first, top)) [best, top] = [group, first];
      }
      if (best === undefined || top === undefined) return undefined;
      if (than !== undefined && before(than, top)) return undefined;
      const holder = this.holderOf(best.pattern);
      if (holder !== undefined) {
        this.woken.splice(this.woken.indexOf(best), 1);
        best.holder = holder;
        const groups = this.groupsUnder.get(holder) ?? new Map<string, WaitGroup>();
        this.groupsUnder.set(holder, groups);
        const same = groups.get(best.pattern.text);
        if (same === undefined) groups.set(best.pattern.text, best);
        else
          for (let task = best.tasks.pop(); task !== undefined; task = best.tasks.pop()) {
            same.tasks.push(task);
            this.groupOf.set(task.id, same);
          }
        continue;
      }
      best.tasks.pop();
      this.groupOf.delete(top.id);
      return top;
    }
  }

  clear(): void {
    this.held.clear();
    this.groupsUnder.clear();
    this.woken.length = 0;
    this.groupOf.clear();
  }

  private holderOf(pattern: ParsedTouch): string | undefined {
    for (const [holder, theirs] of this.held) {
      for (const their of theirs) if (patternsOverlap(pattern.segments, their.segments)) return holder;
    }
    return undefined;
  }
}
