import type { Clock } from '../clock.js';
import type { Random } from '../model/seeded-random.js';
import { FlatMachine } from '../actors/flat-machine.js';
import { WorkerActor, type WorkerRecord } from '../actors/worker-actor.js';
import {
  scheduleBackoffOn,
  workerMachine,
  type WorkerAssignment,
  type WorkerCalls,
  type WorkerEmitted,
  type WorkerEvent,
} from '../actors/worker.machine.js';
import { AdaptiveLimit } from './concurrency.js';

export interface WorkerPoolOptions {
  size: number;
  maxRetries: number;
  clock: Clock;
  random: Random;
  /** First backoff step between retries (ms). */
  retryBaseMs: number;
  /** The calls a worker makes: a task's attempt and its review. */
  calls: WorkerCalls;
  /** Everything the workers report, in order. */
  onEvent: (event: WorkerEmitted) => void;
}

/**
 * A run's workers: `size` worker actors, which of them are idle, and the run's adaptive cap on calls
 * in flight (halved on rate limits, grown back on success). The run hands a ready task to `assign` and
 * hears back through `onEvent`; where an attempt runs is the business of the `calls` it was given.
 *
 * Workers are independent actors (WorkerActor) rather than children of the run actor: a child is
 * persisted and restored with its parent, and a worker restored mid-call would wait for an answer that
 * never comes (a restore does not re-run entry actions). A restored run starts fresh workers; its
 * interrupted tasks are queued again.
 */
export class WorkerPool {
  private readonly workers: WorkerActor[] = [];
  private readonly idle: number[] = [];
  private started = false;
  readonly limit: AdaptiveLimit;

  constructor(options: WorkerPoolOptions) {
    this.limit = new AdaptiveLimit(options.size);
    const { clock, random, retryBaseMs } = options;
    const logic = new FlatMachine<WorkerRecord, WorkerEvent>(
      workerMachine.provide({ actions: { scheduleBackoff: scheduleBackoffOn(clock, random, retryBaseMs) } }),
    );
    const deps = {
      logic,
      calls: options.calls,
      waitUntil: (until: number, signal: AbortSignal) =>
        clock.sleep(Math.max(0, until - clock.now()), signal),
      onEvent: options.onEvent,
    };
    for (let index = 0; index < options.size; index++)
      this.workers.push(new WorkerActor(deps, { index, maxRetries: options.maxRetries }));
  }

  /** How many workers the run has (`max_workers`). */
  get size(): number {
    return this.workers.length;
  }

  /** Workers holding a task (working on it, backing off, or waiting for its review). */
  get busy(): number {
    return this.started ? this.workers.length - this.idle.length : 0;
  }

  /** How many more tasks may be handed out now. */
  get free(): number {
    return Math.max(0, Math.min(this.idle.length, this.limit.value - this.busy));
  }

  /** The workers start taking tasks; the lowest index is handed out first. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (let index = this.workers.length - 1; index >= 0; index--) this.idle.push(index);
  }

  /**
   * Hands the task to an idle worker (check `free` first). `taken` hears which worker before the worker
   * starts, so the task is marked as taken before its attempt begins.
   */
  assign(assignment: WorkerAssignment, taken: (worker: number) => void): void {
    const worker = this.idle.pop();
    if (worker === undefined) throw new Error('no idle worker');
    taken(worker);
    this.workers[worker]!.send({ type: 'worker.assign', assignment });
  }

  /** The worker is idle again (its task was reviewed or given up). */
  freed(worker: number): void {
    if (!this.idle.includes(worker)) this.idle.push(worker);
  }

  /** Takes one worker's task back (a person cancelled it): its call in flight is aborted, its answer ignored. */
  release(worker: number): void {
    if (!this.started || this.idle.includes(worker)) return;
    this.workers[worker]?.send({ type: 'worker.release' });
    this.idle.push(worker);
  }

  /** Takes every task back: calls in flight are aborted and their answers ignored. */
  releaseAll(): void {
    // Workers not yet started hold nothing (and are not idle yet either).
    if (!this.started) return;
    for (const [index, worker] of this.workers.entries()) {
      if (this.idle.includes(index)) continue;
      worker.send({ type: 'worker.release' });
      this.idle.push(index);
    }
  }

  /** Stops every worker for good, aborting what is in flight (the daemon is stopping). */
  stop(): void {
    for (const worker of this.workers) worker.stop();
  }
}
