import type { FlatMachine } from './flat-machine.js';
import {
  initialWorkerContext,
  type WorkerCalls,
  type WorkerContext,
  type WorkerEmitted,
  type WorkerEvent,
  type WorkerInput,
  type WorkerState,
} from './worker.machine.js';

/** A worker's snapshot: its machine's context, with the state it is in as its status. */
export type WorkerRecord = WorkerContext & { status: WorkerState };

/** The worker machine as a run's workers run it (with the run's `scheduleBackoff`). */
export type WorkerLogic = FlatMachine<WorkerRecord, WorkerEvent>;

export interface WorkerActorDeps {
  logic: WorkerLogic;
  /** The calls it makes in `working` and `reviewing`. */
  calls: WorkerCalls;
  /** Resolves at `until` (epoch ms) on the run's clock; rejects once `signal` aborts. */
  waitUntil(until: number, signal: AbortSignal): Promise<void>;
  /** What it tells its run, in order. */
  onEvent(event: WorkerEmitted): void;
}

/**
 * A worker's actor: the worker machine's snapshot, changed one event at a time (a mailbox: an event sent
 * while one is taken waits its turn, as in XState), and what its states mean carried out: in `working` and
 * `reviewing` the call numbered `callId` is made and its answer sent back, in `backoff` the wait, and a
 * release aborts the call in flight. It tells its run what each move means (see workerMachine).
 *
 * Why not an XState actor with the calls as an invoked callback actor: each of a task's 3 worker events
 * was an XState macrostep, relayed through the caller actor (~45 µs of CPU a task, about a tenth of the
 * daemon's in a 10,000-task run); the machine run as a FlatMachine costs ~3 µs of it.
 */
export class WorkerActor {
  private record: WorkerRecord;
  private readonly mailbox: WorkerEvent[] = [];
  private taking = false;
  private stopped = false;
  /**
   * What aborts the worker's calls: one for call after call until one is aborted (a release, a stop),
   * then a fresh one. Made per call, with each Deadline's, it was a tenth of the daemon's CPU at 10k
   * tasks (an AbortSignal is an EventTarget: ~5 µs to make). Calls take their listeners off at their end.
   */
  private calls = new AbortController();
  /** The number of the call in flight, if one is. */
  private inFlight: number | undefined;
  /** The backoff's wait, to abort. */
  private wait: AbortController | undefined;

  constructor(
    private readonly deps: WorkerActorDeps,
    input: WorkerInput,
  ) {
    this.record = { ...initialWorkerContext(input), status: 'idle' };
  }

  getSnapshot(): WorkerRecord {
    return this.record;
  }

  /** A stopped worker takes nothing more. A guard or an action that throws throws here, to the sender. */
  send(event: WorkerEvent): void {
    if (this.stopped) return;
    this.mailbox.push(event);
    if (this.taking) return;
    this.taking = true;
    try {
      for (let next = this.mailbox.shift(); next !== undefined; next = this.mailbox.shift()) this.take(next);
    } catch (error) {
      this.mailbox.length = 0;
      throw error;
    } finally {
      this.taking = false;
    }
  }

  /** Stops it for good: the call in flight and the wait are aborted, and their answers dropped. */
  stop(): void {
    this.stopped = true;
    this.mailbox.length = 0;
    this.calls.abort();
    this.wait?.abort();
    this.inFlight = this.wait = undefined;
  }

  private take(event: WorkerEvent): void {
    const before = this.record;
    const after = this.deps.logic.transition(before, event);
    if (after === undefined) return;
    this.record = after;
    if (event.type === 'worker.release') this.abortCall();
    if (before.status === 'backoff' && after.status !== 'backoff') this.stopWaiting();
    this.tell(before, after, event);
    if ((after.status === 'working' || after.status === 'reviewing') && after.callId !== before.callId)
      this.makeCall(after);
    else if (after.status === 'backoff' && before.status !== 'backoff') this.waitUntil(after.backoffUntil);
  }

  /** What the move means to the run. */
  private tell(before: WorkerRecord, after: WorkerRecord, event: WorkerEvent): void {
    const onEvent = (told: WorkerEmitted) => this.deps.onEvent(told);
    const worker = after.index;
    switch (event.type) {
      case 'call.worked':
        if (after.status === 'reviewing')
          onEvent({ type: 'worker.work_done', worker, taskId: after.assignment!.taskId, text: after.text });
        return;
      case 'call.reviewed':
        if (after.status === 'idle')
          onEvent({
            type: 'worker.reviewed',
            worker,
            taskId: before.assignment!.taskId,
            review: event.review,
          });
        return;
      case 'call.failed': {
        const failure = after.lastError!;
        const error = { category: failure.category, message: failure.message };
        if (after.status === 'backoff') {
          if (failure.rateLimited) onEvent({ type: 'worker.rate_limited', worker });
          onEvent({
            type: 'worker.attempt_failed',
            worker,
            taskId: after.assignment!.taskId,
            phase: after.phase,
            error,
            retryInMs: after.backoffMs,
            ...(failure.beforeAttempt && { beforeAttempt: true }),
          });
        } else if (after.status === 'idle') {
          onEvent({
            type: 'worker.gave_up',
            worker,
            taskId: before.assignment!.taskId,
            phase: after.phase,
            error,
            pauseRun: failure.pauseRun === true,
            cancelled: failure.cancelled === true,
            ...(failure.pauseReason !== undefined && { pauseReason: failure.pauseReason }),
            ...(failure.resumeAt !== undefined && { resumeAt: failure.resumeAt }),
            ...(failure.beforeAttempt && { beforeAttempt: true }),
          });
        }
        return;
      }
      default:
        return;
    }
  }

  private makeCall(record: WorkerRecord): void {
    this.abortCall();
    const { callId, index: worker, text } = record;
    const assignment = record.assignment!;
    const { signal } = this.calls;
    this.inFlight = callId;
    const answer = (event: WorkerEvent) => {
      if (this.inFlight === callId) this.inFlight = undefined;
      // An aborted call answers too; its number is not the worker's any more, so its machine ignores it.
      this.send(event);
    };
    const call: Promise<WorkerEvent> =
      record.status === 'working'
        ? this.deps.calls
            .work({ ...assignment, worker }, signal)
            .then((output) => ({ type: 'call.worked', callId, output }))
        : this.deps.calls
            .review({ worker, taskId: assignment.taskId, text }, signal)
            .then((review) => ({ type: 'call.reviewed', callId, review }));
    call.then(answer, (error: unknown) => answer({ type: 'call.failed', callId, error }));
  }

  private abortCall(): void {
    if (this.inFlight === undefined) return;
    this.calls.abort();
    this.calls = new AbortController();
    this.inFlight = undefined;
  }

  private waitUntil(until: number): void {
    const wait = new AbortController();
    this.wait = wait;
    this.deps.waitUntil(until, wait.signal).then(
      () => {
        if (this.wait !== wait) return;
        this.wait = undefined;
        this.send({ type: 'worker.waited' });
      },
      // Aborted: the worker left its backoff (released) or stopped.
      () => undefined,
    );
  }

  private stopWaiting(): void {
    this.wait?.abort();
    this.wait = undefined;
  }
}
