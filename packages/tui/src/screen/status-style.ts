import type { ErrorCategory, RunStatus, TaskStatus } from '@orc/shared';

/** One colour per status, so a glance at the table tells what is moving and what went wrong. */
export const TASK_STATUS_COLOR: Record<TaskStatus, string> = {
  pending: 'gray',
  ready: 'cyan',
  running: 'yellow',
  reviewing: 'magenta',
  merging: 'magenta',
  done: 'green',
  failed: 'red',
  blocked: 'red',
  skipped: 'gray',
  cancelled: 'gray',
};

export const RUN_STATUS_COLOR: Record<RunStatus, string> = {
  analyzing: 'cyan',
  awaiting_approval: 'yellow',
  executing: 'green',
  paused: 'yellow',
  reviewing: 'magenta',
  completed: 'green',
  failed: 'red',
  cancelled: 'gray',
  damaged: 'red',
};

/** Transient errors are retried by themselves; permanent ones need a person. */
export const ERROR_CATEGORY_COLOR: Record<ErrorCategory, string> = {
  transient: 'yellow',
  recoverable: 'yellow',
  permanent: 'red',
};

/** Wraps already-escaped text in a blessed colour tag. */
export function colored(color: string, text: string): string {
  return `{${color}-fg}${text}{/${color}-fg}`;
}
