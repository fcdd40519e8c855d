import {
  describeSourceChange,
  describeTaskChanges,
  editedBy,
  idList,
  restoredText,
  type ErrorCategory,
  type OrcEvent,
  type TaskReview,
} from '@orc/shared';
import { formatCost, formatTokens, plural } from './format.js';
import { ERROR_CATEGORY_COLOR, colored } from './status-style.js';
import { escapeTags, oneLine } from './text-cells.js';

export type EventLevel = 'info' | 'warn' | 'error';

/** One line of the event pane, before markup. */
export interface EventLine {
  id: number;
  time: string;
  level: EventLevel;
  /** The kind of failure when the event reports one, shown as a coloured tag. */
  category?: ErrorCategory;
  text: string;
}

/** Describes an event for the event pane; worker output has panes of its own and gives no line. */
export function describeEvent(event: OrcEvent): EventLine | undefined {
  const line = (level: EventLevel, text: string, category?: ErrorCategory): EventLine => ({
    id: event.id,
    time: clockTime(event.at),
    level,
    text: oneLine(text),
    ...(category === undefined ? {} : { category }),
  });
  switch (event.type) {
    case 'run.created':
      return line('info', `run created: ${event.goal}`);
    case 'run.planning':
      return line('info', `planning (attempt ${event.attempt})`);
    case 'run.plan_rejected':
      return line('warn', `plan rejected (attempt ${event.attempt}): ${event.error}`);
    case 'run.planned':
      return line('info', `planned ${plural(event.tasks.length, 'task')}: ${event.summary}`);
    case 'run.status':
      return line(
        event.status === 'failed' ? 'error' : event.status === 'awaiting_approval' ? 'warn' : 'info',
        event.status === 'awaiting_approval'
          ? 'the plan waits for your approval (i opens the inbox)'
          : `run is ${event.status}`,
      );
    case 'run.plan_answered':
      return line(
        event.decision === 'refuse' ? 'warn' : 'info',
        `plan ${event.decision === 'approve' ? 'approved' : event.decision === 'edit' ? 'sent back to the manager' : 'refused'}${event.note === undefined ? '' : `: ${event.note}`}`,
      );
    case 'run.paused':
      return line(
        'warn',
        `paused (${event.reason}${event.resumeAt === undefined ? '' : `, resumes at ${clockTime(event.resumeAt)}`})${event.message === undefined ? '' : `: ${event.message}`}`,
      );
    case 'run.resumed':
      return line('info', 'resumed');
    case 'run.budget_set':
      return line('info', `budget set to ${formatCost(event.limitUsd)}`);
    case 'run.task_budget_set':
      return line('info', `a task's cap set to ${formatCost(event.limitUsd)}`);
    case 'run.budget_exceeded':
      return line(
        'error',
        `cost ${formatCost(event.costUsd)} reached the budget of ${formatCost(event.limitUsd)}; the run is paused`,
      );
    case 'run.budget_would_exceed':
      return line(
        'warn',
        `${event.nextTask === undefined ? 'the final review' : `the next task (${event.nextTask})`} needs about ${formatCost(event.neededUsd)}, which does not fit the budget of ${formatCost(event.limitUsd)} with ${formatCost(event.costUsd)} spent${event.underWayUsd > 0 ? ` and ${formatCost(event.underWayUsd)} under way` : ''}; the run is paused`,
      );
    case 'run.concurrency':
      return line('warn', `concurrency now ${event.limit}: ${event.reason}`);
    case 'run.integrated':
      return line('info', event.message);
    case 'run.completed':
      return line('info', `run completed (${event.review.verdict}): ${event.review.summary}`);
    case 'run.failed':
      return line('error', `run failed: ${event.error}`);
    case 'run.cancelled':
      return line('warn', 'run cancelled');
    case 'run.restored':
      return line(
        'warn',
        event.interruptedTasks.length === 0
          ? 'restored after a daemon restart'
          : `restored after a daemon restart; ${restoredText(event)}`,
      );
    case 'train.verifying':
      return line(
        'info',
        `verifying ${event.taskIds.length === 0 ? 'the integration head' : event.taskIds.join(', ')} at ${event.commit.slice(0, 12)}`,
      );
    case 'train.verified':
      return event.passed
        ? line(
            'info',
            `verify passed: ${event.taskIds.length === 0 ? 'the integration head' : event.taskIds.join(', ')}`,
          )
        : line(
            'warn',
            `verify failed: ${event.taskIds.length === 0 ? 'the integration head' : event.taskIds.join(', ')} (${event.reason ?? ''})`,
          );
    case 'train.landed':
      return line('info', `landed ${event.taskIds.join(', ')} at ${event.commit.slice(0, 12)}`);
    case 'checkpoint.created':
      return line(
        'info',
        `checkpoint ${event.checkpoint.id} saved (${plural(event.checkpoint.tasksDone, 'task')} done)`,
      );
    case 'run.rollback_started':
      return line('warn', `rolling back to ${event.checkpointId} (${event.strategy})`);
    case 'run.rollback_failed':
      return line('error', `rollback to ${event.checkpointId} failed: ${event.error}`);
    case 'run.rolled_back':
      return line(
        'warn',
        // Which tasks, as orc logs and the report say: a trial could not tell what "2 tasks reset" were.
        `rolled back to ${event.checkpointId} (${event.strategy}); ${plural(event.resetTasks.length, 'task')} reset${event.resetTasks.length === 0 ? '' : `: ${idList(event.resetTasks, 6)}`}`,
      );
    case 'task.status': {
      const level = event.status === 'failed' ? 'error' : event.status === 'blocked' ? 'warn' : 'info';
      // Straight from the queue to its review: an answer given before (kept by a rollback, or journalled
      // before a restart) goes to review, with no new attempt.
      const text =
        event.status === 'reviewing' && event.from === 'ready'
          ? `${event.taskId} reviewing: its answer from before goes to review${event.worker === undefined ? '' : ` (w${event.worker})`}`
          : `${event.taskId} ${event.status}${event.reason === undefined ? '' : `: ${event.reason}`}`;
      return line(level, text);
    }
    case 'task.assigned':
      return line('info', `${event.taskId} → w${event.worker} (attempt ${event.attempt})`);
    case 'worker.output':
      return undefined;
    case 'task.session':
      return event.resumes === undefined
        ? undefined
        : line(
            'info',
            `${event.taskId} attempt ${event.attempt} resumes the session of attempt ${event.resumes}`,
          );
    case 'task.tool_refused':
      return line(
        'warn',
        `${event.taskId} was refused ${event.refusal.tool}${event.refusal.subject === '' ? '' : ` ${event.refusal.subject}`}: ${event.refusal.reason}`,
      );
    case 'task.attempt_ended':
    case 'task.review_charged':
      // How it ended is told by what follows: the review, the failure, the retry; its cost by the totals.
      return undefined;
    case 'task.attempt_failed': {
      const retry = event.retryInMs === undefined ? '' : `; retry in ${(event.retryInMs / 1000).toFixed(1)}s`;
      return line(
        'error',
        `${event.taskId} attempt ${event.attempt} failed: ${event.error.message}${retry}`,
        event.error.category,
      );
    }
    case 'task.reviewed': {
      const { verdict, feedback } = event.review;
      const level = verdict === 'accept' ? 'info' : verdict === 'rework' ? 'warn' : 'error';
      const what = verdict === 'accept' ? 'accepted' : verdict === 'rework' ? 'sent back' : 'rejected';
      return line(level, `${event.taskId} ${what}: ${feedback}`);
    }
    case 'task.worked':
      // Told by the answer's own line once the task is done (task.completed).
      return undefined;
    case 'task.completed':
      return describeDone(event);
    case 'task.failed':
      return describeFailed(event);
    case 'task.source_changed':
      return line('warn', `${event.taskId} ${describeSourceChange(event.change)}`);
    case 'task.error_revised':
      // Shown on the task (its error), not as a line of its own: the cap's change has its line.
      return undefined;
    case 'task.touched':
      // Shown on the task (its files), not as a line of its own: one per accepted task would be noise.
      return undefined;
    case 'plan.tasks_added':
      return line('info', `added ${event.tasks.map((task) => task.id).join(', ')} ${editedBy(event.origin)}`);
    case 'plan.tasks_removed':
      return line('info', `removed ${event.taskIds.join(', ')} ${editedBy(event.origin)}`);
    case 'task.edited':
      return line(
        'info',
        `${event.taskId} edited ${editedBy(event.origin)}: ${describeTaskChanges(event.changes)}`,
      );
    case 'feedback.rated': {
      const { taskId, score, comment } = event.rating;
      return line('info', `${taskId ?? 'run'} rated ${score}/5${comment ? `: ${comment}` : ''}`);
    }
  }
}

/**
 * A task done: the attempt whose answer it kept and what that cost, and the review that accepted it when
 * the two are one thing (`t1 done (attempt 1 accepted, 90 in / 64 out, $0.0012): covers the task`).
 */
export function describeDone(
  event: Extract<OrcEvent, { type: 'task.completed' }>,
  review?: TaskReview,
): EventLine {
  const spend = `${formatTokens(event.usage.inputTokens)} in / ${formatTokens(event.usage.outputTokens)} out, ${formatCost(event.costUsd)}`;
  const attempt = `attempt ${event.attempt}${review === undefined ? '' : ' accepted'}`;
  return {
    id: event.id,
    time: clockTime(event.at),
    level: 'info',
    text: oneLine(
      `${event.taskId} done (${attempt}, ${spend})${review === undefined ? '' : `: ${review.feedback}`}`,
    ),
  };
}

/**
 * A task failed; with the attempt that gave up when that is what failed it, its number and its error's kind
 * (`[PERMANENT] t1 failed at attempt 2: invalid request`).
 */
export function describeFailed(
  event: Extract<OrcEvent, { type: 'task.failed' }>,
  attempt?: Extract<OrcEvent, { type: 'task.attempt_failed' }>,
): EventLine {
  return {
    id: event.id,
    time: clockTime(event.at),
    level: 'error',
    text: oneLine(
      attempt === undefined
        ? `${event.taskId} failed: ${event.error}`
        : `${event.taskId} failed at attempt ${attempt.attempt}: ${attempt.error.message}`,
    ),
    ...(attempt !== undefined && { category: attempt.error.category }),
  };
}

/** A local failure the user should see among the events (an action the daemon refused, a lost connection). */
export function noticeLine(level: EventLevel, text: string, now: Date): EventLine {
  return { id: 0, time: clockTime(now.toISOString()), level, text: oneLine(text) };
}

export function eventLineMarkup(line: EventLine): string {
  const category =
    line.category === undefined
      ? ''
      : `{bold}${colored(ERROR_CATEGORY_COLOR[line.category], `[${line.category.toUpperCase()}]`)}{/bold} `;
  const text = escapeTags(line.text);
  const body =
    line.level === 'error'
      ? `{red-fg}${text}{/red-fg}`
      : line.level === 'warn'
        ? colored('yellow', text)
        : text;
  return `{gray-fg}${line.time}{/gray-fg} ${category}${body}`;
}

function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '--:--:--';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
