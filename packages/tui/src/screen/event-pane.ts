import { FINISHED_RUN_STATUSES, type OrcEvent, type RunStatus, type TaskStatus } from '@orc/shared';
import { describeDone, describeEvent, describeFailed, type EventLine } from './event-line.js';

/** How many lines are kept: the pane shows a few, the rest are for a taller terminal. */
export const KEEP_EVENT_LINES = 500;

/** How far back a line is looked for to amend it: the things told together are a few lines apart. */
const AMEND_WITHIN = 64;

/** A task queued and dispatched within this is one thing, its dispatch; queued longer, it waited: two. */
const SAME_MOMENT_MS = 1000;

/** What the pane last told of a task: the status, and the line and event that told it. */
interface Told {
  status: TaskStatus;
  line: EventLine | undefined;
  event: OrcEvent;
}

/**
 * The lines of the event pane, one per thing that happened. The daemon tells one thing in several events
 * (a dispatch is the task queued, running and assigned; a task done is its review, its answer and its
 * move), and the pane tells it once: a status the pane already told of a task is not told again, and the
 * event that ends a thing amends the line that began it when that line is still among the last.
 */
export class EventPane {
  readonly lines: EventLine[] = [];
  /** Forgotten now and then: what was told long ago is off the pane anyway. */
  private readonly told = new Map<string, Told>();
  /** The line telling the run ended, until the event saying how it ended replaces it. */
  private ending: { status: RunStatus; line: EventLine } | undefined;
  /** The line of the run's last change of status, which a resume tells again. */
  private status: { status: RunStatus; line: EventLine } | undefined;

  clear(): void {
    this.lines.length = 0;
    this.told.clear();
    this.ending = this.status = undefined;
  }

  /** A line of the screen's own (a refused action, a lost connection). */
  note(line: EventLine): void {
    this.lines.push(line);
    this.trim();
  }

  /**
   * Tells the events, of which only the last lines are kept: the events that could give them are found
   * from the end, then told in order, and the lines trimmed once (describing and trimming each of a
   * frame's 2,000 events at full speed, a 500-line splice per line, was two thirds of the screen's folding).
   */
  tell(events: readonly OrcEvent[]): void {
    let start = events.length;
    // Up to four events make one line (a dispatch: queued, running, assigned; output gives none).
    for (let told = 0; start > 0 && told < 4 * KEEP_EVENT_LINES;) {
      start--;
      if (events[start]!.type !== 'worker.output') told++;
    }
    for (let i = start; i < events.length; i++) this.tellOne(events[i]!);
    this.trim();
  }

  private tellOne(event: OrcEvent): void {
    switch (event.type) {
      case 'task.status': {
        const last = this.told.get(event.taskId);
        // Running is told by the dispatch (task.assigned, which names the worker and the attempt); a status
        // told already (failed by task.failed, done by task.completed, a rollback's ready twice) is not again.
        if (event.status === 'running' || last?.status === event.status) return;
        // Queued again after a line that said it goes again (a retry in 2.0s, sent back): told by that line.
        if (event.status === 'ready' && last !== undefined && saysAgain(last.event)) {
          this.remember(event.taskId, { status: 'ready', line: undefined, event });
          return;
        }
        // Pending for a reason (a person's retry) and ready at once: one thing, `k2 ready: retried by a person`.
        if (
          event.status === 'ready' &&
          event.reason === undefined &&
          last?.line !== undefined &&
          last.event.type === 'task.status' &&
          last.event.status === 'pending' &&
          last.event.reason !== undefined &&
          sameMoment(last.event, event) &&
          this.drop(last.line)
        ) {
          this.push({ ...event, reason: last.event.reason }, { status: 'ready' });
          return;
        }
        this.push(event, { status: event.status });
        return;
      }
      case 'task.assigned': {
        const last = this.told.get(event.taskId);
        if (
          last?.line !== undefined &&
          last.event.type === 'task.status' &&
          last.event.status === 'ready' &&
          // A ready with a reason (a person's retry) says more than the dispatch: it stays.
          last.event.reason === undefined &&
          sameMoment(last.event, event)
        )
          this.drop(last.line);
        this.push(event, { status: 'running' });
        return;
      }
      case 'task.completed': {
        const last = this.told.get(event.taskId);
        const review =
          last?.line !== undefined &&
          last.event.type === 'task.reviewed' &&
          last.event.review.verdict === 'accept' &&
          this.drop(last.line)
            ? last.event.review
            : undefined;
        const line = describeDone(event, review);
        this.lines.push(line);
        this.remember(event.taskId, { status: 'done', line, event });
        return;
      }
      case 'task.failed': {
        // An attempt that gave up fails its task: one thing, told with the attempt's error and its kind.
        const last = this.told.get(event.taskId);
        const attempt =
          last?.line !== undefined &&
          last.event.type === 'task.attempt_failed' &&
          last.event.retryInMs === undefined &&
          event.error.endsWith(last.event.error.message) &&
          this.drop(last.line)
            ? last.event
            : undefined;
        const line = describeFailed(event, attempt);
        this.lines.push(line);
        this.remember(event.taskId, { status: 'failed', line, event });
        return;
      }
      case 'task.attempt_failed': {
        const last = this.told.get(event.taskId);
        this.push(event, { status: last?.status ?? 'running' });
        return;
      }
      case 'task.reviewed': {
        const last = this.told.get(event.taskId);
        this.push(event, { status: last?.status ?? 'reviewing' });
        return;
      }
      case 'run.status': {
        // Paused is told by the pause, which comes just before and says why.
        if (event.status === 'paused') return;
        const line = this.push(event);
        this.status = line === undefined ? undefined : { status: event.status, line };
        this.ending =
          FINISHED_RUN_STATUSES.has(event.status) && line !== undefined
            ? { status: event.status, line }
            : undefined;
        return;
      }
      case 'run.resumed': {
        // `run is executing` then `resumed`: one line, the one that says what a person did.
        if (this.status?.status === 'executing') this.drop(this.status.line);
        this.status = undefined;
        this.push(event);
        return;
      }
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled': {
        // `run is completed` then how: one line, the one that says how.
        const status = event.type.slice('run.'.length);
        if (this.ending?.status === status) this.drop(this.ending.line);
        this.ending = undefined;
        this.push(event);
        return;
      }
      default:
        this.push(event);
    }
  }

  /** The event's line, if it gives one; with `task`, what it tells of its task. */
  private push(event: OrcEvent, task?: { status: TaskStatus }): EventLine | undefined {
    const line = describeEvent(event);
    if (line !== undefined) this.lines.push(line);
    if (task !== undefined && 'taskId' in event)
      this.remember(event.taskId, { status: task.status, line, event });
    return line;
  }

  private remember(taskId: string, told: Told): void {
    // Bounded: a 100,000-task run tells of every task.
    if (this.told.size >= 4 * KEEP_EVENT_LINES && !this.told.has(taskId)) this.told.clear();
    this.told.set(taskId, told);
  }

  /** Takes a line back to tell it again amended; false when it is no longer among the last. */
  private drop(line: EventLine): boolean {
    for (let i = this.lines.length - 1; i >= Math.max(0, this.lines.length - AMEND_WITHIN); i--) {
      if (this.lines[i] !== line) continue;
      this.lines.splice(i, 1);
      return true;
    }
    return false;
  }

  private trim(): void {
    if (this.lines.length > KEEP_EVENT_LINES) this.lines.splice(0, this.lines.length - KEEP_EVENT_LINES);
  }
}

function sameMoment(before: OrcEvent, after: OrcEvent): boolean {
  return Date.parse(after.at) - Date.parse(before.at) < SAME_MOMENT_MS;
}

/** A line that says its task goes again: an attempt that failed with a retry to come, a task sent back. */
function saysAgain(event: OrcEvent): boolean {
  if (event.type === 'task.attempt_failed') return event.retryInMs !== undefined;
  return event.type === 'task.reviewed' && event.review.verdict === 'rework';
}
