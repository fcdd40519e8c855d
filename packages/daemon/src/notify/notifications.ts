import { formatCost, answerHint, simulatedLabel } from '@orc/shared';
import type { InboxItem, NotifyOn, ResolvedConfig, RunSummary } from '@orc/shared';
import { CommandChannel } from './command-channel.js';
import { DesktopChannel } from './desktop-channel.js';
import type { Notification, NotificationChannel } from './notifier.js';
import { WebhookChannel } from './webhook-channel.js';

/** The channels `notifications` configures (the bell is the terminal UI's own). */
export function channelsFrom(
  config: ResolvedConfig['notifications'],
  env: NodeJS.ProcessEnv = process.env,
): NotificationChannel[] {
  return [
    ...(config.command !== undefined ? [new CommandChannel(config.command, env)] : []),
    ...(config.webhook !== undefined ? [new WebhookChannel(config.webhook)] : []),
    ...(config.desktop ? [new DesktopChannel(env)] : []),
  ];
}

/** An inbox item as a push: the question, and how to answer it from a terminal. */
export function itemNotification(item: InboxItem): Notification {
  // Every answer it takes, with the figure a bare raise sets, as orc inbox gives them.
  const hint = answerHint(item);
  return {
    kind: item.type,
    title: `claude-orchestrator needs you (${item.type.replace('_', ' ')})`,
    text: `${item.question}\nAnswer: ${hint}`,
    payload: { kind: item.type, text: `${item.question} (${hint})`, item },
  };
}

/** A run that ended, as a push. */
export function runEndNotification(run: RunSummary): Notification | undefined {
  const kind = RUN_END_KINDS[run.status];
  if (kind === undefined) return undefined;
  const goal = run.goal.length > 80 ? `${run.goal.slice(0, 79)}…` : run.goal;
  const done = run.taskCounts['done'] ?? 0;
  const how = run.status === 'failed' && run.error !== undefined ? `: ${run.error.slice(0, 200)}` : '';
  const text =
    `run ${run.id} ${run.status}${how} (${done}/${run.taskTotal} tasks done, ${formatCost(run.costUsd)})` +
    `${simulatedLabel(run)}\n${goal}`;
  return { kind, title: `claude-orchestrator: run ${run.status}`, text, payload: { kind, text, run } };
}

const RUN_END_KINDS: Partial<Record<RunSummary['status'], NotifyOn>> = {
  completed: 'run_completed',
  failed: 'run_failed',
  cancelled: 'run_cancelled',
};
