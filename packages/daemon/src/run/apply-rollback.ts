import { hasAnswerToReview, nextAttemptNumber, type RollbackStrategy, type TaskRecord } from '@orc/shared';

/**
 * The task records after a rollback, the ids of the tasks whose state it changed (`reset`), and of the
 * done tasks it left done with the same result (`kept`).
 * - full: the checkpoint's records, as they were.
 * - partial: the checkpoint's records, but a task that finished since keeps its result when its inputs
 *   did not change (same spec, and every dependency kept with the same result); so does an answer given
 *   since that waits for its review.
 * - selective: the current records, with the named tasks and everything downstream of them reset.
 *
 * Work is not paid twice: a task the rollback does not start over keeps an answer that waits for its
 * review, and goes to that review (as after a crash). A task the checkpoint had not yet answered is
 * worked again by a full rollback: that is what going back to the checkpoint means.
 */
export function applyRollback(
  strategy: RollbackStrategy,
  current: readonly TaskRecord[],
  saved: readonly TaskRecord[],
  named: readonly string[],
): { tasks: TaskRecord[]; reset: string[]; kept: string[] } {
  const currentById = new Map(current.map((t) => [t.id, t]));
  const savedById = new Map(saved.map((t) => [t.id, t]));
  let tasks: TaskRecord[];
  switch (strategy) {
    case 'full':
      tasks = saved.map((t) => fromCheckpoint(t, currentById.get(t.id)));
      break;
    case 'partial': {
      const kept = new Set<string>();
      // Answered since, with inputs unchanged: the answer goes to its review.
      const answered = new Set<string>();
      const depsKept = (task: TaskRecord) =>
        task.dependencies.every(
          (dep) => kept.has(dep) || sameResult(savedById.get(dep), currentById.get(dep)),
        );
      for (const task of topological(saved)) {
        const now = currentById.get(task.id);
        const unchangedInputs =
          now !== undefined && now.status === 'done' && sameSpec(now, task) && depsKept(task);
        if (unchangedInputs) kept.add(task.id);
        else if (now !== undefined && sameSpec(now, task) && hasAnswerToReview(now) && depsKept(task))
          answered.add(task.id);
      }
      tasks = saved.map((t) =>
        kept.has(t.id) || answered.has(t.id)
          ? structuredClone(currentById.get(t.id)!)
          : fromCheckpoint(t, currentById.get(t.id)),
      );
      break;
    }
    case 'selective': {
      const downstream = downstreamOf(current, named);
      tasks = current.map((t) => (downstream.has(t.id) ? resetTask(t) : structuredClone(t)));
      break;
    }
  }
  // Nothing is in flight after a rollback: interrupted work goes back to the queue.
  for (const task of tasks) {
    if (task.status === 'running' || task.status === 'reviewing' || task.status === 'merging') {
      task.status = 'pending';
      delete task.worker;
      const last = task.attempts.at(-1);
      if (last?.outcome === 'running') {
        last.outcome = 'interrupted';
        // The same attempt as it ended since, if it has: its time is what it worked, not until now.
        const ended = currentById.get(task.id)?.attempts.find((a) => a.n === last.n)?.endedAt;
        if (ended !== undefined) last.endedAt = ended;
      }
    }
    if (task.status === 'ready') task.status = 'pending';
    // Sent back to work, its time starts over, as a reset's does (its first start was kept, and read
    // earlier than the time it was queued again); an answer kept for its review keeps its start.
    if (task.status === 'pending' && !hasAnswerToReview(task)) {
      delete task.readyAt;
      delete task.startedAt;
    }
    // The attempts the rollback took off its record keep their numbers: its next one comes after them.
    const before = currentById.get(task.id);
    const highest = before === undefined ? 0 : nextAttemptNumber(before) - 1;
    if (highest > (task.attempts.at(-1)?.n ?? 0)) task.lastAttempt = highest;
  }
  const reset = tasks.filter((t) => changedBy(currentById.get(t.id), t)).map((t) => t.id);
  const kept = tasks.filter((t) => sameResult(currentById.get(t.id), t)).map((t) => t.id);
  return { tasks, reset, kept };
}

/**
 * The checkpoint's record of a task. An answer it had waiting for its review is kept when that attempt
 * is still the task's last (nothing newer was tried, and in a repository run its branch still holds that
 * work); otherwise the task is worked again.
 */
function fromCheckpoint(saved: TaskRecord, now: TaskRecord | undefined): TaskRecord {
  const copy = structuredClone(saved);
  const answer = copy.attempts.at(-1);
  const sameAttempt = answer !== undefined && now?.attempts.at(-1)?.n === answer.n;
  return sameAttempt ? copy : withoutAnswer(copy);
}

/**
 * A task the rollback starts over does not take up an answer that was waiting for its review then: it
 * is worked again.
 */
function withoutAnswer(task: TaskRecord): TaskRecord {
  const last = task.attempts.at(-1);
  if (last && task.status !== 'done' && last.output !== undefined) {
    last.output = undefined;
    last.diff = undefined;
  }
  return task;
}

function resetTask(task: TaskRecord): TaskRecord {
  const copy = withoutAnswer(structuredClone(task));
  copy.status = 'pending';
  copy.reworks = 0;
  delete copy.result;
  delete copy.error;
  delete copy.worker;
  // Its time starts over with it, as the task machine's own reset has it.
  delete copy.readyAt;
  delete copy.startedAt;
  delete copy.finishedAt;
  delete copy.feedback;
  return copy;
}

/** Statuses of work still to do: a rollback that moves a task among them changes nothing a person sees. */
const TO_DO: ReadonlySet<TaskRecord['status']> = new Set([
  'pending',
  'ready',
  'running',
  'reviewing',
  'merging',
]);

/**
 * Whether the rollback changed the task's state (what "reset N tasks" counts): it ended otherwise (done,
 * failed, skipped…), or lost its result, attempts, or an answer that waited for its review. A task that
 * waited to run and waits again is not reset, nor one whose attempt in flight goes back to the queue.
 */
function changedBy(before: TaskRecord | undefined, after: TaskRecord): boolean {
  if (before === undefined) return true;
  const settled = (task: TaskRecord) => (TO_DO.has(task.status) ? 'to do' : task.status);
  return (
    settled(before) !== settled(after) ||
    before.result !== after.result ||
    after.attempts.length < before.attempts.length ||
    (hasAnswerToReview(before) && !hasAnswerToReview(after))
  );
}

function sameSpec(a: TaskRecord, b: TaskRecord): boolean {
  return (
    a.title === b.title &&
    a.description === b.description &&
    a.details === b.details &&
    a.dependencies.join('\n') === b.dependencies.join('\n')
  );
}

function sameResult(a: TaskRecord | undefined, b: TaskRecord | undefined): boolean {
  return (
    a !== undefined && b !== undefined && a.status === 'done' && b.status === 'done' && a.result === b.result
  );
}

/** The named tasks and every task that depends on them, directly or not. */
export function downstreamOf(tasks: readonly TaskRecord[], named: readonly string[]): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const task of tasks)
    for (const dep of task.dependencies) dependents.set(dep, [...(dependents.get(dep) ?? []), task.id]);
  const out = new Set<string>();
  const stack = [...named];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    stack.push(...(dependents.get(id) ?? []));
  }
  return out;
}

function topological(tasks: readonly TaskRecord[]): TaskRecord[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const seen = new Set<string>();
  const out: TaskRecord[] = [];
  const visit = (task: TaskRecord) => {
    if (seen.has(task.id)) return;
    seen.add(task.id);
    for (const dep of task.dependencies) {
      const d = byId.get(dep);
      if (d) visit(d);
    }
    out.push(task);
  };
  for (const task of tasks) visit(task);
  return out;
}
