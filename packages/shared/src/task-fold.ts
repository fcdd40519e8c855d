import { completedResult, type TaskEventOf } from './events.js';
import { withoutEmptyTouches, type Plan } from './plan.js';
import type { TaskChanges } from './plan-edit.js';
import {
  withReviewCharge,
  SETTLED_STATUSES,
  ZERO_USAGE,
  type Attempt,
  type TaskRecord,
  type TaskSpec,
  type TaskStatus,
} from './task.js';

/**
 * What one event does to one task record, as the daemon's task machine did it when it told of it: the
 * record after the event, or the same object when the event changes nothing. Pure. Fields are cleared
 * to undefined, as the machine clears them (JSON drops them alike).
 *
 * Events carry what the record cannot be told otherwise: an attempt's end (`task.attempt_ended`), the
 * feedback a task goes back to ready with, whether a block is a hold at the source. Each time in a record
 * is the `at` of the event that set it. Journals written before those fields existed are folded as well
 * as they tell (an attempt then ends at the move to reviewing or at `task.attempt_failed`).
 */
export function foldTaskEvent(task: TaskRecord, event: TaskEventOf): TaskRecord {
  switch (event.type) {
    case 'task.status':
      return moved(task, event);
    case 'task.assigned': {
      const attempt: Attempt = {
        n: event.attempt,
        worker: event.worker,
        startedAt: event.at,
        outcome: 'running',
        usage: ZERO_USAGE,
        costUsd: 0,
      };
      const attempts = [...task.attempts.filter((a) => a.n !== event.attempt), attempt].sort(
        (a, b) => a.n - b.n,
      );
      return { ...task, worker: event.worker, startedAt: task.startedAt ?? event.at, attempts };
    }
    case 'task.attempt_ended':
      return changeAttempt(task, event.attempt, (a) => ({
        ...a,
        outcome: event.outcome,
        usage: event.usage,
        costUsd: event.costUsd,
        endedAt: event.at,
        ...(event.output !== undefined && { output: event.output }),
        ...(event.error !== undefined && { error: event.error }),
      }));
    case 'task.worked':
      // The answer, waiting for its review: a restored run reviews it rather than work the task again.
      return changeAttempt(task, event.attempt, (a) => ({
        ...a,
        outcome: 'succeeded',
        usage: event.usage,
        costUsd: event.costUsd,
        endedAt: event.at,
        output: event.output,
        ...(event.diff !== undefined && { diff: event.diff }),
      }));
    case 'task.attempt_failed':
      // An attempt that `task.attempt_ended` did not end already (an older journal).
      return changeAttempt(task, event.attempt, (a) =>
        a.outcome === 'running' ? { ...a, outcome: 'failed', error: event.error, endedAt: event.at } : a,
      );
    case 'task.session':
      return changeAttempt(task, event.attempt, (a) => ({
        ...a,
        sessionId: event.sessionId,
        ...(event.resumes !== undefined && { resumes: event.resumes }),
      }));
    case 'task.tool_refused':
      return changeAttempt(task, event.attempt, (a) => ({
        ...a,
        refusals: [...(a.refusals ?? []), event.refusal],
      }));
    case 'task.review_charged':
      return changeAttempt(task, event.attempt, (a) => withReviewCharge(a, event));
    case 'task.reviewed':
      return changeAttempt(task, event.attempt, (a) => ({
        // What the review cost (journals from before it was told here tell it in `task.review_charged`).
        ...(event.charge !== undefined ? withReviewCharge(a, event.charge) : a),
        review: event.review,
        // What the attempt cost, in journals from before `task.attempt_ended`.
        ...(event.usage !== undefined &&
          event.costUsd !== undefined &&
          a.costUsd === 0 && { usage: event.usage, costUsd: event.costUsd }),
      }));
    case 'task.completed': {
      // The accepted output is the task's result; the record does not keep it (or its diff) twice. The
      // event tells the result only when it is not that output (which `task.worked` told).
      const output = task.attempts.find((a) => a.n === event.attempt)?.output;
      const next = changeAttempt(task, event.attempt, (a) => ({
        ...a,
        outcome: 'succeeded',
        output: undefined,
        diff: undefined,
        usage: event.usage,
        costUsd: event.costUsd,
        endedAt: a.endedAt ?? event.at,
      }));
      const completed = { ...next, result: completedResult(event, output) };
      // Done with its result, even when the `task.status` that follows it did not reach the disk.
      return task.status === 'done' ? completed : moved(completed, { status: 'done', at: event.at });
    }
    case 'task.failed':
      return { ...task, error: event.error };
    case 'task.source_changed':
      return { ...task, sourceChange: event.change };
    case 'task.touched':
      return { ...task, touched: event.files };
    case 'task.error_revised':
      return { ...task, error: event.error };
    case 'task.edited':
      return editedTask(task, event.changes);
    case 'worker.output':
      return task;
  }
}

/** A task's move, with what the task machine does on it. */
function moved(
  task: TaskRecord,
  event: Pick<
    Extract<TaskEventOf, { type: 'task.status' }>,
    'status' | 'at' | 'reason' | 'feedback' | 'held' | 'worker'
  >,
): TaskRecord {
  const { at } = event;
  const from = task.status;
  const next: TaskRecord = { ...task, status: event.status };
  const settle = () => {
    next.worker = undefined;
    next.finishedAt = at;
  };
  switch (event.status) {
    case 'pending':
      if (SETTLED_STATUSES.has(from)) {
        // Retried: it starts over within fresh bounds.
        next.error = undefined;
        next.held = undefined;
        next.sourceChange = undefined;
        next.reworks = 0;
        next.feedback = undefined;
        next.finishedAt = undefined;
      }
      return next;
    case 'ready':
      next.worker = undefined;
      next.readyAt = at;
      // Taken back from its worker: the attempt under way is cut short.
      if (from === 'running') next.attempts = endRunning(task.attempts, 'interrupted', at);
      if (event.feedback !== undefined) {
        next.reworks = task.reworks + 1;
        next.feedback = event.feedback;
        // Its answer no longer merges (a conflict) or fails the verify: the task is worked again, not
        // sent back to its review.
        if (from === 'merging')
          next.attempts = changeLast(task.attempts, { output: undefined, diff: undefined });
      }
      return next;
    case 'running':
      next.startedAt = task.startedAt ?? at;
      return next;
    case 'reviewing':
    case 'merging':
      // An older journal ends the attempt here: its work came back.
      next.attempts = endRunning(task.attempts, 'succeeded', at);
      // Its answer was in before a restart: a worker took it straight to its review.
      if (event.worker !== undefined) next.worker = event.worker;
      return next;
    case 'done':
      settle();
      next.error = undefined;
      next.feedback = undefined;
      return next;
    case 'failed':
      settle();
      if (event.reason !== undefined) next.error = event.reason;
      return next;
    case 'blocked':
      settle();
      if (event.reason !== undefined) next.error = event.reason;
      if (event.held === true) next.held = event.reason;
      return next;
    case 'cancelled':
      settle();
      next.attempts = endRunning(task.attempts, 'cancelled', at);
      return next;
    case 'skipped':
      settle();
      return next;
  }
}

/** The attempts with a running last one ended as `outcome` at `at`; the same array when none runs. */
function endRunning(attempts: Attempt[], outcome: Attempt['outcome'], at: string): Attempt[] {
  const last = attempts.at(-1);
  if (last?.outcome !== 'running') return attempts;
  return [...attempts.slice(0, -1), { ...last, outcome, endedAt: at }];
}

/** The attempts with the last one changed; the same array when there is none. */
function changeLast(attempts: Attempt[], change: Partial<Attempt>): Attempt[] {
  const last = attempts.at(-1);
  if (last === undefined) return attempts;
  return [...attempts.slice(0, -1), { ...last, ...change }];
}

function changeAttempt(task: TaskRecord, n: number, change: (a: Attempt) => Attempt): TaskRecord {
  let changed = false;
  const attempts = task.attempts.map((a) => {
    if (a.n !== n) return a;
    const next = change(a);
    changed ||= next !== a;
    return next;
  });
  return changed ? { ...task, attempts } : task;
}

/**
 * The task records after a plan: one per planned task in the plan's order; a task of the same id that
 * had finished (done, failed, skipped: a run restarted before its first snapshot) keeps what it did,
 * and every kept task its attempts, so attempt numbers go on. An imported task not begun, planned the
 * same way, stays the very record it was (the daemon keeps one copy of its text at 100,000 tasks).
 */
export function plannedTasks(specs: Plan['tasks'], before: ReadonlyMap<string, TaskRecord>): TaskRecord[] {
  return specs.map((spec) => {
    const kept = before.get(spec.id);
    if (kept?.status === 'pending' && kept.attempts.length === 0 && sameSpec(kept, spec)) return kept;
    const finished =
      kept !== undefined && (kept.status === 'done' || kept.status === 'failed' || kept.status === 'skipped');
    return {
      ...withoutEmptyTouches(spec),
      status: finished ? kept.status : 'pending',
      attempts: kept?.attempts ?? [],
      reworks: kept?.reworks ?? 0,
      ...(finished && { result: kept.result, error: kept.error, finishedAt: kept.finishedAt }),
    };
  });
}

/** The record was made from this spec (an imported one has `details`): the same task, the same way. */
function sameSpec(record: TaskRecord, spec: Plan['tasks'][number] & { details?: string }): boolean {
  return (
    record.title === spec.title &&
    record.description === spec.description &&
    record.priority === spec.priority &&
    record.details === spec.details &&
    record.dependencies.length === spec.dependencies.length &&
    record.dependencies.every((dep, i) => dep === spec.dependencies[i])
  );
}

/**
 * A daemon that starts again finds nothing running: attempts still running were cut off at `endedAt`
 * (the last moment the daemon was known alive, `run.restored`'s `lastAliveAt`; `at` in older journals),
 * and the tasks that were in flight (`interrupted`) go back to the queue at `at`.
 */
export function restoredTask(
  task: TaskRecord,
  interrupted: boolean,
  at: string,
  endedAt: string = at,
): TaskRecord {
  const running = task.attempts.some((a) => a.outcome === 'running');
  if (!running && !interrupted) return task;
  const next: TaskRecord = running
    ? {
        ...task,
        attempts: task.attempts.map((a) =>
          a.outcome === 'running'
            ? // Never before it began: the attempt's own clock may run a moment past the journal's.
              { ...a, outcome: 'interrupted', endedAt: endedAt < a.startedAt ? a.startedAt : endedAt }
            : a,
        ),
      }
    : { ...task };
  if (interrupted) {
    next.status = 'ready';
    next.worker = undefined;
    next.readyAt = at;
  }
  return next;
}

/** Statuses a task is in flight in: a daemon that starts again puts such tasks back in the queue. */
export const IN_FLIGHT_STATUSES: ReadonlySet<TaskStatus> = new Set(['running', 'reviewing', 'merging']);

/**
 * Whether the task's last attempt succeeded and its answer waits for a review (not yet reviewed, or
 * accepted and not yet landed): a review cut off by a crash, a pause, a rollback or a person's cancel.
 */
export function hasAnswerToReview(task: Pick<TaskRecord, 'attempts'>): boolean {
  const last = task.attempts.at(-1);
  return (
    last?.outcome === 'succeeded' &&
    last.output !== undefined &&
    (last.review === undefined || last.review.verdict === 'accept')
  );
}

/**
 * A task with a person's changes to its spec; what the run did with it stays, except an answer that waits
 * for its review (a review cancelled or cut off): it answered the old title, description or inputs, so a
 * changed task is worked again rather than have that answer reviewed and accepted. A new priority keeps it.
 */
export function editedTask(task: TaskRecord, changes: TaskChanges): TaskRecord {
  const respecified =
    changes.title !== undefined || changes.description !== undefined || changes.dependencies !== undefined;
  const last = task.attempts.at(-1);
  const stale = respecified && hasAnswerToReview(task);
  return {
    ...task,
    ...(changes.title !== undefined && { title: changes.title }),
    ...(changes.description !== undefined && { description: changes.description }),
    ...(changes.dependencies !== undefined && { dependencies: changes.dependencies }),
    ...(changes.priority !== undefined && { priority: changes.priority }),
    ...(stale && {
      attempts: task.attempts.map((a) => (a === last ? { ...a, output: undefined, diff: undefined } : a)),
    }),
  };
}

/** A task a person added to a running plan, waiting to run. */
export function addedTask(spec: TaskSpec): TaskRecord {
  return { ...spec, status: 'pending', attempts: [], reworks: 0 };
}

/** The tasks left once `removed` are taken out of the plan, without their dependencies on them. */
export function withoutRemoved(tasks: readonly TaskRecord[], removed: ReadonlySet<string>): TaskRecord[] {
  return tasks
    .filter((task) => !removed.has(task.id))
    .map((task) =>
      task.dependencies.some((dep) => removed.has(dep))
        ? { ...task, dependencies: task.dependencies.filter((dep) => !removed.has(dep)) }
        : task,
    );
}
