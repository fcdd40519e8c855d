import {
  describeSourceChange,
  describeTaskChanges,
  editedBy,
  type OrcEvent,
  restoredText,
  simulatedRoles,
  untoldOutput,
} from '@orc/shared';
import { formatCost, plural } from '../screen/format.js';
import { oneLine } from '../screen/text-cells.js';

/**
 * One event as one line of text, with its id first so `orc logs --after <id>` can pick up from it, and
 * its text whole (on one line): a line too wide for a terminal is cut where it is shown (`fitEventLine`).
 * Cut here, a worker's output and answers were cut at 80 and 60 characters even into a file.
 */
export function eventLine(event: OrcEvent): string {
  return `#${event.id} ${event.at.slice(11, 19)} ${event.type.padEnd(20)} ${eventDetail(event)}`.trimEnd();
}

function eventDetail(event: OrcEvent): string {
  switch (event.type) {
    case 'run.created': {
      // All simulated says it once; else the workers' provider, and which role is simulated if one is.
      const roles = simulatedRoles(event.models);
      const models =
        roles === 'SIMULATED' ? roles : [event.models.worker.provider, ...(roles ? [roles] : [])].join(', ');
      return `${oneLine(event.goal)} (${models})`;
    }
    case 'run.planning':
      return `attempt ${event.attempt}`;
    case 'run.plan_rejected':
      return `attempt ${event.attempt}: ${oneLine(event.error)}`;
    case 'run.planned':
      return plural(event.tasks.length, 'task');
    case 'run.status':
      return event.status;
    case 'run.plan_answered':
      return `${event.decision}${event.note ? `: ${oneLine(event.note)}` : ''}`;
    case 'run.paused':
      return `${event.reason}${event.resumeAt ? ` until ${event.resumeAt}` : ''}${event.message ? `: ${event.message}` : ''}`;
    case 'run.resumed':
    case 'run.cancelled':
      return '';
    case 'run.budget_exceeded':
      return `${formatCost(event.costUsd)} of $${event.limitUsd}`;
    case 'run.budget_would_exceed':
      return `${formatCost(event.costUsd)} of ${formatCost(event.limitUsd)} spent; ${event.nextTask === undefined ? 'the final review' : `task ${event.nextTask}`} needs about ${formatCost(event.neededUsd)}${event.underWayUsd > 0 ? `, work under way about ${formatCost(event.underWayUsd)}` : ''}: it does not fit`;
    case 'run.budget_set':
      return `$${event.limitUsd}`;
    case 'run.task_budget_set':
      return `a task may cost $${event.limitUsd}`;
    case 'run.concurrency':
      return `limit ${event.limit} (${event.reason})`;
    case 'run.integrated':
      return event.message;
    case 'run.completed':
      return `${event.review.verdict}: ${oneLine(event.review.summary)}`;
    case 'run.failed':
      return oneLine(event.error);
    case 'run.restored':
      return restoredText(event);
    case 'train.verifying':
      return `${trainTasks(event.taskIds)} at ${event.commit.slice(0, 12)}`;
    case 'train.verified':
      return `${trainTasks(event.taskIds)} ${event.passed ? 'passed' : `failed: ${oneLine(event.reason ?? '')}`} (${(event.durationMs / 1000).toFixed(1)} s)`;
    case 'train.landed':
      return `${event.taskIds.join(', ')} -> ${event.commit.slice(0, 12)}`;
    case 'checkpoint.created':
      return `${event.checkpoint.id}${event.checkpoint.label ? ` "${event.checkpoint.label}"` : ''}`;
    case 'run.rollback_started':
      return `to ${event.checkpointId} (${event.strategy})${event.tasks ? `: ${event.tasks.join(', ')}` : ''}`;
    case 'run.rollback_failed':
      return `to ${event.checkpointId}: ${oneLine(event.error)}`;
    case 'run.rolled_back':
      return `to ${event.checkpointId} (${event.strategy}), reset ${plural(event.resetTasks.length, 'task')}`;
    case 'task.status':
      return `${event.taskId} ${event.status}${event.reason ? ` (${oneLine(event.reason)})` : ''}`;
    case 'task.assigned':
      return `${event.taskId} -> worker ${event.worker} (attempt ${event.attempt})`;
    case 'worker.output':
      return `${event.taskId} ${oneLine(event.text)}`;
    case 'task.session':
      return `${event.taskId} attempt ${event.attempt}: session ${event.sessionId}${event.resumes !== undefined ? ` (resumed from attempt ${event.resumes})` : ''}`;
    case 'task.tool_refused':
      return `${event.taskId} attempt ${event.attempt}: ${event.refusal.tool} ${oneLine(event.refusal.subject)} (${oneLine(event.refusal.reason)})`;
    case 'task.attempt_ended':
      return `${event.taskId} attempt ${event.attempt} ${event.outcome}, ${formatCost(event.costUsd)}`;
    case 'task.attempt_failed':
      return `${event.taskId} attempt ${event.attempt}: ${event.error.category}: ${oneLine(event.error.message)}`;
    case 'task.review_charged':
      return `${event.taskId} attempt ${event.attempt} review, ${formatCost(event.costUsd)}`;
    case 'task.reviewed':
      return `${event.taskId} ${event.review.verdict}${event.charge ? `, review ${formatCost(event.charge.costUsd)}` : ''}`;
    case 'task.worked': {
      // The stream's `worker.output` lines went before: this line goes on with what only it tells (all of
      // an answer that came whole, nothing of one streamed whole). Without `streamed` the stream was an
      // agent's narration (or an older journal's): the answer's start.
      const shown = event.streamed === undefined ? event.output : untoldOutput(event);
      return `${event.taskId} attempt ${event.attempt}, ${formatCost(event.costUsd)}${shown === '' ? '' : `: ${oneLine(shown)}`}`;
    }
    case 'task.completed':
      return `${event.taskId} attempt ${event.attempt}, ${formatCost(event.costUsd)}`;
    case 'task.failed':
      return `${event.taskId} ${oneLine(event.error)}`;
    case 'task.source_changed':
      return `${event.taskId} ${describeSourceChange(event.change)}`;
    case 'task.error_revised':
      return `${event.taskId} ${oneLine(event.error)}`;
    case 'task.touched':
      return `${event.taskId} changed ${oneLine(event.files.join(', '))}`;
    case 'plan.tasks_added':
      return `${event.tasks.map((task) => task.id).join(', ')} ${editedBy(event.origin)}`;
    case 'plan.tasks_removed':
      return `${event.taskIds.join(', ')} ${editedBy(event.origin)}`;
    case 'task.edited':
      return `${event.taskId} ${oneLine(describeTaskChanges(event.changes))} ${editedBy(event.origin)}`;
    case 'feedback.rated':
      return `${event.rating.taskId ?? 'run'} ${event.rating.score}/5${event.rating.comment ? `: ${oneLine(event.rating.comment)}` : ''}`;
  }
}

/** What a verify was about: tasks merged onto the head, or the head alone. */
export function trainTasks(taskIds: readonly string[]): string {
  return taskIds.length === 0 ? 'integration head' : taskIds.join(', ');
}

/**
 * Whether the run is over (or waits for a person: a plan to approve, a pause only a person ends), so an
 * attached command can stop following it. A usage
 * limit with a known reset does not wait for a person: the run goes on by itself then.
 */
export function endsFollowing(event: OrcEvent): boolean {
  return (
    event.type === 'run.completed' ||
    event.type === 'run.failed' ||
    event.type === 'run.cancelled' ||
    (event.type === 'run.status' && event.status === 'awaiting_approval') ||
    // A person's pause, or one that ends by itself (a quota with a known reset, a disk back), goes on.
    (event.type === 'run.paused' &&
      event.reason !== 'user' &&
      event.reason !== 'storage' &&
      event.resumeAt === undefined)
  );
}
